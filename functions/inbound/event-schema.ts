import * as z from 'zod';
import { type InboundMail, type ReceiptVerdicts, VerdictStatus } from '../../core/model.ts';

/**
 * The inbound event, outside in: an SQS record whose body is the SNS notification (Type, MessageId,
 * Message...) whose Message is the SES "Received" notification of the S3 action, or, with raw
 * message delivery turned on, the SES notification itself.
 *
 * Written against the real events in the SES Developer Guide (test/fixtures/events/), not against
 * Powertools' `SesSchema`, which is stricter than what SES sends (reference/aws-ses-inbound.md §1.1):
 * `dmarcPolicy` appears only when DMARC fails, verdicts may be missing or `DISABLED` when scanning is
 * off, `commonHeaders` fields come and go. Objects are loose (unknown fields pass): SES adds fields
 * over the years and an added field must not quarantine mail. What the desk depends on is strict:
 * the message id, the S3 location, the envelope recipients.
 */

/** A verdict we do not know (a status SES adds later) counts as "not PASS", never as a pass. */
const normaliseStatus = (status: string): VerdictStatus => {
  const upper = status.toUpperCase();
  return (VerdictStatus as readonly string[]).includes(upper)
    ? (upper as VerdictStatus)
    : 'PROCESSING_FAILED';
};

export const SesVerdictSchema = z.looseObject({ status: z.string().transform(normaliseStatus) });

export const SesS3ActionSchema = z.looseObject({
  type: z.literal('S3', {
    message: 'must be "S3": the receipt rule must store the mail in S3 and notify the SNS topic',
  }),
  bucketName: z.string().min(1),
  objectKey: z.string().min(1),
  topicArn: z.string().optional(),
  objectKeyPrefix: z.string().optional(),
  kmsKeyArn: z.string().optional(),
});

/** Any action, for reading events of other rule actions (Lambda, SNS) in tools and tests. */
export const SesAnyActionSchema = z.looseObject({ type: z.string().min(1) });

export const SesCommonHeadersSchema = z.looseObject({
  returnPath: z.string().optional(),
  from: z.array(z.string()).optional(),
  sender: z.array(z.string()).optional(),
  replyTo: z.array(z.string()).optional(),
  date: z.string().optional(),
  to: z.array(z.string()).optional(),
  cc: z.array(z.string()).optional(),
  bcc: z.array(z.string()).optional(),
  messageId: z.string().optional(),
  subject: z.string().optional(),
});

export const SesMailSchema = z.looseObject({
  timestamp: z.string().optional(),
  /** Envelope MAIL FROM; empty for the null sender. */
  source: z.string().optional(),
  /** SES's id: the S3 object key after the prefix, and our idempotency key. */
  messageId: z.string().min(1),
  /** To/Cc addresses from the MIME headers (not the envelope: that is `receipt.recipients`). */
  destination: z.array(z.string()).optional(),
  headersTruncated: z.boolean().optional(),
  headers: z.array(z.looseObject({ name: z.string(), value: z.string() })).optional(),
  commonHeaders: SesCommonHeadersSchema.optional(),
});

const receiptShape = {
  timestamp: z.string().optional(),
  processingTimeMillis: z.number().optional(),
  /** Envelope RCPT TO matched by the rule: the only place Bcc'd desk addresses show up. */
  recipients: z.array(z.string().min(1)).min(1),
  spamVerdict: SesVerdictSchema.optional(),
  virusVerdict: SesVerdictSchema.optional(),
  spfVerdict: SesVerdictSchema.optional(),
  dkimVerdict: SesVerdictSchema.optional(),
  dmarcVerdict: SesVerdictSchema.optional(),
  /** Present only when DMARC fails. */
  dmarcPolicy: z.string().optional(),
};

export const SesReceiptSchema = z.looseObject({ ...receiptShape, action: SesS3ActionSchema });
export const SesAnyReceiptSchema = z.looseObject({ ...receiptShape, action: SesAnyActionSchema });

/** The SES notification of an S3 action: what the inbound function processes. */
export const SesReceivedNotificationSchema = z.looseObject({
  notificationType: z.literal('Received', { message: 'must be "Received" (an SES receipt notification)' }),
  mail: SesMailSchema,
  receipt: SesReceiptSchema,
  /** Only with an SNS action; S3 action notifications carry no content. */
  content: z.string().optional(),
});
export type SesReceivedNotification = z.output<typeof SesReceivedNotificationSchema>;

/** Any SES receipt notification (S3, SNS or Lambda action), for reading the corpus. */
export const SesAnyNotificationSchema = z.looseObject({
  notificationType: z.literal('Received'),
  mail: SesMailSchema,
  receipt: SesAnyReceiptSchema,
  content: z.string().optional(),
});

/** SNS's envelope as it lands in SQS (`SigningCertURL`; the Lambda event spells it `SigningCertUrl`). */
export const SnsNotificationSchema = z.looseObject({
  Type: z.literal('Notification', { message: 'must be "Notification"' }),
  MessageId: z.string().min(1),
  TopicArn: z.string().optional(),
  Subject: z.string().optional(),
  Message: z.string(),
  Timestamp: z.string().optional(),
  SignatureVersion: z.string().optional(),
  Signature: z.string().optional(),
  SigningCertURL: z.string().optional(),
  SigningCertUrl: z.string().optional(),
  UnsubscribeURL: z.string().optional(),
  UnsubscribeUrl: z.string().optional(),
  MessageAttributes: z.record(z.string(), z.unknown()).optional(),
});

export const SqsRecordSchema = z.looseObject({
  messageId: z.string().min(1),
  receiptHandle: z.string().optional(),
  body: z.string(),
  attributes: z.record(z.string(), z.unknown()).optional(),
  messageAttributes: z.record(z.string(), z.unknown()).optional(),
  md5OfBody: z.string().optional(),
  eventSource: z.string().optional(),
  eventSourceARN: z.string().optional(),
  awsRegion: z.string().optional(),
});
export type SqsRecord = z.output<typeof SqsRecordSchema>;

export type ParsedRecord =
  | {
      ok: true;
      sqsMessageId: string;
      notification: SesReceivedNotification;
      /** `sns`: the body was SNS's envelope; `raw`: raw message delivery. */
      delivery: 'sns' | 'raw';
      snsMessageId?: string | undefined;
    }
  | {
      ok: false;
      /** `undefined` when the record is not even an SQS record. */
      sqsMessageId: string | undefined;
      /** The SES message id, when the body got far enough to have one. */
      sesMessageId: string | undefined;
      /** One line per problem, `path: what is wrong`. Never the field's value. */
      problems: string[];
    };

const MAX_PROBLEMS = 10;

const describe = (error: z.ZodError, base: string): string[] =>
  error.issues.slice(0, MAX_PROBLEMS).map((issue) => {
    const path = [base, ...issue.path.map(String)].filter((part) => part !== '').join('.');
    return `${path || '(root)'}: ${issue.message}`;
  });

const parseJson = (text: string): { ok: true; value: unknown } | { ok: false } => {
  try {
    return { ok: true, value: JSON.parse(text) };
  } catch {
    return { ok: false };
  }
};

const sesIdOf = (value: unknown): string | undefined => {
  const id = (value as { mail?: { messageId?: unknown } } | null)?.mail?.messageId;
  return typeof id === 'string' && id.length > 0 ? id : undefined;
};

/** Validates one SQS record down to the SES notification. Never throws. */
export const parseInboundRecord = (record: unknown): ParsedRecord => {
  const sqs = SqsRecordSchema.safeParse(record);
  if (!sqs.success) {
    const id = (record as { messageId?: unknown } | null)?.messageId;
    return {
      ok: false,
      sqsMessageId: typeof id === 'string' ? id : undefined,
      sesMessageId: undefined,
      problems: describe(sqs.error, 'record'),
    };
  }
  const sqsMessageId = sqs.data.messageId;
  const fail = (problems: string[], sesMessageId?: string): ParsedRecord => ({
    ok: false,
    sqsMessageId,
    sesMessageId,
    problems,
  });

  const body = parseJson(sqs.data.body);
  if (!body.ok) return fail(['body: is not JSON']);

  let message: unknown = body.value;
  let delivery: 'sns' | 'raw' = 'raw';
  let snsMessageId: string | undefined;
  if (typeof body.value === 'object' && body.value !== null && 'Type' in body.value) {
    const sns = SnsNotificationSchema.safeParse(body.value);
    if (!sns.success) return fail(describe(sns.error, 'body'));
    const inner = parseJson(sns.data.Message);
    if (!inner.ok) return fail(['body.Message: is not JSON']);
    message = inner.value;
    delivery = 'sns';
    snsMessageId = sns.data.MessageId;
  }
  const base = delivery === 'sns' ? 'body.Message' : 'body';
  const notification = SesReceivedNotificationSchema.safeParse(message);
  if (!notification.success) return fail(describe(notification.error, base), sesIdOf(message));
  return {
    ok: true,
    sqsMessageId,
    notification: notification.data,
    delivery,
    ...(snsMessageId === undefined ? {} : { snsMessageId }),
  };
};

const DMARC_POLICIES = ['none', 'quarantine', 'reject'] as const;

/**
 * The verdicts from the receipt. A verdict SES did not send is `NONE`: present, and not a pass.
 *
 * `dmarcDomain` stays undefined: the receipt's `dmarcVerdict` holds only a `status`, and
 * `dmarcPolicy` only the sending domain's policy ("Contents of notifications for Amazon SES email
 * receiving", https://docs.aws.amazon.com/ses/latest/dg/receiving-email-notifications-contents.html);
 * neither names the domain. SES evaluates DMARC on the mail's own From header, the RFC5322.From
 * domain DMARC is defined on (RFC 7489 §3.1). What it does with a From that is a group or several
 * mailboxes is not documented, which is why the sender identity rule refuses those whatever the source.
 */
export const verdictsFromReceipt = (receipt: SesReceivedNotification['receipt']): ReceiptVerdicts => {
  const policy = receipt.dmarcPolicy?.toLowerCase();
  const dmarcPolicy = DMARC_POLICIES.find((candidate) => candidate === policy);
  return {
    spf: receipt.spfVerdict?.status ?? 'NONE',
    dkim: receipt.dkimVerdict?.status ?? 'NONE',
    dmarc: receipt.dmarcVerdict?.status ?? 'NONE',
    spam: receipt.spamVerdict?.status ?? 'NONE',
    virus: receipt.virusVerdict?.status ?? 'NONE',
    ...(dmarcPolicy === undefined ? {} : { dmarcPolicy }),
    source: 'ses',
  };
};

/** The InboundMail for a validated notification: envelope and verdicts from the receipt, never from headers. */
export const toInboundMail = (notification: SesReceivedNotification): InboundMail => {
  const { mail, receipt } = notification;
  const received = new Date(receipt.timestamp ?? mail.timestamp ?? '');
  return {
    id: mail.messageId,
    rawKey: receipt.action.objectKey,
    envelope: {
      // `receipt.recipients`, not To/Cc: the envelope is where Bcc'd and aliased desk addresses are.
      recipients: receipt.recipients,
      mailFrom: mail.source,
    },
    verdicts: verdictsFromReceipt(receipt),
    receivedAt: Number.isNaN(received.getTime()) ? new Date() : received,
  };
};
