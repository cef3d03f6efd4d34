import * as z from 'zod';
import type { Logger } from '../ports.ts';
import type { DeskState } from '../state/index.ts';
import type { TicketRef } from '../state/tickets.ts';

/**
 * SES sending feedback: bounce and complaint notifications (SES identity notifications, or the
 * events of a configuration set), delivered by SNS to the notify queue. A permanent bounce or a
 * complaint marks the participant `undeliverable` on every ticket the mail belonged to (found
 * through the message-id index by the id SES returned when we sent it); nothing more is sent to
 * them on that ticket. Transient bounces change nothing (SES retries those itself).
 *
 * Accepted shapes: the SNS envelope (`{"Type":"Notification","Message":"<json>"}`) or the raw
 * message (SNS raw message delivery), with `notificationType` (identity notifications) or
 * `eventType` (configuration-set event publishing).
 */

const Recipient = z.looseObject({
  emailAddress: z.string(),
  status: z.string().optional(),
  diagnosticCode: z.string().optional(),
});

const SesFeedbackSchema = z.looseObject({
  notificationType: z.string().optional(),
  eventType: z.string().optional(),
  bounce: z
    .looseObject({
      bounceType: z.string(),
      bounceSubType: z.string().optional(),
      bouncedRecipients: z.array(Recipient),
    })
    .optional(),
  complaint: z
    .looseObject({
      complainedRecipients: z.array(Recipient),
      complaintFeedbackType: z.string().optional(),
    })
    .optional(),
  mail: z.looseObject({
    messageId: z.string(),
    commonHeaders: z.looseObject({ messageId: z.string().optional() }).optional(),
  }),
});
export type SesFeedback = z.output<typeof SesFeedbackSchema>;

const SnsEnvelopeSchema = z.looseObject({ Type: z.literal('Notification'), Message: z.string() });

/** Reads an SQS message body as SES feedback; undefined when it is not one. */
export const parseSesFeedback = (body: string): SesFeedback | undefined => {
  let raw: unknown;
  try {
    raw = JSON.parse(body);
  } catch {
    return undefined;
  }
  const envelope = SnsEnvelopeSchema.safeParse(raw);
  if (envelope.success) {
    try {
      raw = JSON.parse(envelope.data.Message);
    } catch {
      return undefined;
    }
  }
  const feedback = SesFeedbackSchema.safeParse(raw);
  if (!feedback.success) return undefined;
  const type = feedback.data.notificationType ?? feedback.data.eventType;
  return type === undefined ? undefined : feedback.data;
};

export interface FeedbackResult {
  type: string;
  /** Participants marked undeliverable (address, ticket). */
  marked: { address: string; project: string; iid: number }[];
  /** Why nothing was marked, when nothing was. */
  ignored?: 'not_permanent' | 'other_notification' | 'unknown_message' | undefined;
}

/** A short reason for the ticket record: `bounce: Permanent/General 5.1.1`, `complaint: abuse`. */
const reasonFor = (feedback: SesFeedback, recipient: z.output<typeof Recipient>): string => {
  if (feedback.bounce) {
    const sub = feedback.bounce.bounceSubType ? `/${feedback.bounce.bounceSubType}` : '';
    const status = recipient.status ? ` ${recipient.status}` : '';
    return `bounce: ${feedback.bounce.bounceType}${sub}${status}`.slice(0, 200);
  }
  return `complaint: ${feedback.complaint?.complaintFeedbackType ?? 'reported as spam'}`.slice(0, 200);
};

export const applySesFeedback = async (
  feedback: SesFeedback,
  /** The ticket store (on the desk's clock) dates the undeliverable mark. */
  deps: { state: Pick<DeskState, 'tickets'>; logger: Logger },
): Promise<FeedbackResult> => {
  const type = feedback.notificationType ?? feedback.eventType ?? 'unknown';
  const result: FeedbackResult = { type, marked: [] };
  let recipients: z.output<typeof Recipient>[];
  if (type === 'Bounce' && feedback.bounce) {
    if (feedback.bounce.bounceType !== 'Permanent') return { ...result, ignored: 'not_permanent' };
    recipients = feedback.bounce.bouncedRecipients;
  } else if (type === 'Complaint' && feedback.complaint) {
    recipients = feedback.complaint.complainedRecipients;
  } else {
    return { ...result, ignored: 'other_notification' };
  }

  const { tickets } = deps.state;
  const ids = [feedback.mail.messageId, feedback.mail.commonHeaders?.messageId].filter(
    (id): id is string => id !== undefined && id !== '',
  );
  let refs: TicketRef[] = [];
  for (const id of ids) {
    refs = await tickets.lookupMessageId(id);
    if (refs.length > 0) break;
  }
  if (refs.length === 0) {
    deps.logger.warn('SES feedback for a mail that is on no ticket', {
      type,
      sesMessageId: feedback.mail.messageId,
    });
    return { ...result, ignored: 'unknown_message' };
  }
  for (const ref of refs) {
    for (const recipient of recipients) {
      const record = await tickets.markUndeliverable(
        ref.projectPath,
        ref.iid,
        recipient.emailAddress,
        reasonFor(feedback, recipient),
      );
      if (record)
        result.marked.push({
          address: recipient.emailAddress.toLowerCase(),
          project: ref.projectPath,
          iid: ref.iid,
        });
    }
  }
  deps.logger.info('SES feedback applied', {
    type,
    sesMessageId: feedback.mail.messageId,
    marked: result.marked.map(({ project, iid }) => `${project}#${iid}`),
  });
  return result;
};
