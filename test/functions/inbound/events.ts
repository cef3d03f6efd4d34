import { createHash } from 'node:crypto';
import { readFileSync } from 'node:fs';
import type { SQSEvent, SQSRecord } from 'aws-lambda';

/**
 * The derived real events (test/fixtures/events/, see its README) and factories for variants: other
 * ids, recipients, verdicts, delivery modes. A variant starts from a real event and changes only what
 * the test is about.
 */

export const readEvent = <T = unknown>(path: string): T =>
  JSON.parse(readFileSync(new URL(`../../fixtures/events/${path}`, import.meta.url), 'utf8')) as T;

/** A mutable copy of an SES notification (`mail`, `receipt`, ...). */
export type Notification = {
  notificationType: string;
  mail: { messageId: string; [key: string]: unknown };
  receipt: {
    recipients: string[];
    action: { type: string; bucketName?: string; objectKey?: string; [key: string]: unknown };
    [key: string]: unknown;
  };
  [key: string]: unknown;
};

/** The richest real event, as our S3 action sends it: 29 headers, DMARC GRAY, no dmarcPolicy. */
export const realNotification = (): Notification =>
  readEvent<Notification>('ses/s3-action-notification-from-lambda-event.json');

export interface NotificationVariant {
  messageId?: string;
  recipients?: string[];
  bucket?: string;
  /** Defaults to `mail/<messageId>`. */
  objectKey?: string;
  verdicts?: Partial<Record<'spam' | 'virus' | 'spf' | 'dkim' | 'dmarc', string>>;
  dmarcPolicy?: string;
}

export const notificationVariant = (
  variant: NotificationVariant,
  base = realNotification(),
): Notification => {
  const next = structuredClone(base);
  if (variant.messageId !== undefined) next.mail.messageId = variant.messageId;
  if (variant.recipients !== undefined) next.receipt.recipients = variant.recipients;
  if (variant.bucket !== undefined) next.receipt.action.bucketName = variant.bucket;
  next.receipt.action.objectKey = variant.objectKey ?? `mail/${next.mail.messageId}`;
  for (const [name, status] of Object.entries(variant.verdicts ?? {})) {
    next.receipt[`${name}Verdict`] = { status };
  }
  if (variant.dmarcPolicy !== undefined) next.receipt['dmarcPolicy'] = variant.dmarcPolicy;
  return next;
};

const sqsShell = readEvent<SQSEvent>('sqs/s3-action-via-sns.json').Records[0] as SQSRecord;
const snsShell = JSON.parse(sqsShell.body) as Record<string, unknown>;

/** An SQS record carrying `body` as-is, the other record fields from the real event. */
export const sqsRecordWithBody = (body: string, sqsMessageId: string): SQSRecord => ({
  ...structuredClone(sqsShell),
  messageId: sqsMessageId,
  body,
  md5OfBody: createHash('md5').update(body).digest('hex'),
});

/** An SQS record as the queue delivers it: SNS envelope around the notification, or raw delivery. */
export const sqsRecordFor = (
  notification: unknown,
  options: { sqsMessageId?: string; delivery?: 'sns' | 'raw' } = {},
): SQSRecord => {
  const sqsMessageId =
    options.sqsMessageId ??
    `sqs-${createHash('sha1').update(JSON.stringify(notification)).digest('hex').slice(0, 12)}`;
  const body =
    options.delivery === 'raw'
      ? JSON.stringify(notification)
      : JSON.stringify({
          ...snsShell,
          MessageId: `sns-${sqsMessageId}`,
          Message: JSON.stringify(notification),
        });
  return sqsRecordWithBody(body, sqsMessageId);
};

export const sqsEvent = (...records: SQSRecord[]): SQSEvent => ({ Records: records });
