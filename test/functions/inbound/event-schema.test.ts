import type { SQSEvent } from 'aws-lambda';
import { describe, expect, it } from 'vitest';
import {
  parseInboundRecord,
  SesAnyNotificationSchema,
  SesAnyReceiptSchema,
  SesMailSchema,
  SnsNotificationSchema,
  toInboundMail,
  verdictsFromReceipt,
} from '../../../functions/inbound/event-schema.ts';

import {
  notificationVariant,
  readEvent,
  realNotification,
  sqsRecordFor,
  sqsRecordWithBody,
} from './events.ts';

const firstRecord = (path: string) => readEvent<SQSEvent>(path).Records[0];

describe('the derived real SES events', () => {
  it.each([
    'ses/s3-action-sns-alert-notification.json',
    'ses/s3-action-notification-from-lambda-event.json',
    'ses/sns-action-notification.json',
    'ses/sns-action-lambda-event-message.json',
  ])('%s is an SES receipt notification', (path) => {
    expect(SesAnyNotificationSchema.safeParse(readEvent(path)).success).toBe(true);
  });

  it("reads the Lambda action event's mail and receipt (dmarcPolicy absent, as SES sends it)", () => {
    // Prepare
    const ses = readEvent<{ Records: { ses: { mail: unknown; receipt: unknown } }[] }>(
      'ses/lambda-action-event.json',
    ).Records[0]?.ses;

    // Act
    const mail = SesMailSchema.safeParse(ses?.mail);
    const receipt = SesAnyReceiptSchema.safeParse(ses?.receipt);

    // Assess
    expect(mail.success).toBe(true);
    expect(receipt.success).toBe(true);
    expect(receipt.data?.dmarcPolicy).toBeUndefined();
    expect(receipt.data?.dmarcVerdict?.status).toBe('GRAY');
  });

  it("reads the SNS envelope of the SNS action's Lambda event", () => {
    // Prepare
    const sns = readEvent<{ Records: { Sns: unknown }[] }>('ses/sns-action-lambda-event.json').Records[0]
      ?.Sns;

    // Act
    const parsed = SnsNotificationSchema.safeParse(sns);

    // Assess
    expect(parsed.success).toBe(true);
    expect(JSON.parse(parsed.data?.Message ?? '{}').notificationType).toBe('Received');
  });
});

describe('parseInboundRecord', () => {
  it('accepts the S3 action notification inside an SNS envelope (raw delivery off)', () => {
    // Act
    const parsed = parseInboundRecord(firstRecord('sqs/s3-action-via-sns.json'));

    // Assess
    expect(parsed).toMatchObject({
      ok: true,
      delivery: 'sns',
      sqsMessageId: '059f36b4-87a3-44ab-83d2-661175700091',
      snsMessageId: '5f0b9b0c-0001-example',
      notification: {
        mail: { messageId: 'd6iitobk75ur44p8kdnnp7g2n800' },
        receipt: {
          recipients: ['recipient@example.com'],
          action: { type: 'S3', bucketName: 'my-S3-bucket', objectKey: 'email' },
        },
      },
    });
  });

  it('accepts the same notification with raw message delivery on', () => {
    // Act
    const parsed = parseInboundRecord(firstRecord('sqs/s3-action-raw-delivery.json'));

    // Assess
    expect(parsed).toMatchObject({
      ok: true,
      delivery: 'raw',
      notification: { mail: { messageId: 'd6iitobk75ur44p8kdnnp7g2n800' } },
    });
  });

  it('accepts the full event and keeps every field it does not know (loose objects)', () => {
    // Act
    const parsed = parseInboundRecord(firstRecord('sqs/s3-action-from-lambda-event-via-sns.json'));

    // Assess
    if (!parsed.ok) throw new Error(parsed.problems.join('\n'));
    expect(parsed.notification.mail.headers).toHaveLength(29);
    expect(parsed.notification.receipt['processingTimeMillis']).toBe(1205);
    expect(parsed.notification.receipt.action['objectKeyPrefix']).toBe('mail/');
  });

  it('refuses an SNS action notification: the mail is not in the bucket', () => {
    // Act
    const parsed = parseInboundRecord(firstRecord('sqs/sns-action-via-sns.json'));

    // Assess
    expect(parsed).toMatchObject({ ok: false, sesMessageId: 'd6iitobk75ur44p8kdnnp7g2n800' });
    if (parsed.ok) return;
    expect(parsed.problems.join('\n')).toMatch(/body\.Message\.receipt\.action\.type: must be "S3"/);
  });

  it.each([
    ['a body that is not JSON', 'not json at all', /^body: is not JSON$/],
    [
      'an SNS message that is not JSON',
      JSON.stringify({ Type: 'Notification', MessageId: 'x', Message: '{' }),
      /body\.Message: is not JSON/,
    ],
    [
      'an SNS subscription confirmation',
      JSON.stringify({ Type: 'SubscriptionConfirmation', MessageId: 'x', Message: 'hi' }),
      /body\.Type: must be "Notification"/,
    ],
    [
      'a bounce notification',
      JSON.stringify({ notificationType: 'Bounce', mail: { messageId: 'm' }, receipt: {} }),
      /body\.notificationType: must be "Received"/,
    ],
  ])('refuses %s, naming the place', (_name, body, problem) => {
    // Act
    const parsed = parseInboundRecord(sqsRecordWithBody(body, 'sqs-bad'));

    // Assess
    expect(parsed.ok).toBe(false);
    if (parsed.ok) return;
    expect(parsed.sqsMessageId).toBe('sqs-bad');
    expect(parsed.problems.join('\n')).toMatch(problem);
  });

  it('refuses a receipt without envelope recipients or object key, listing both', () => {
    // Prepare
    const notification = realNotification();
    notification.receipt.recipients = [];
    delete notification.receipt.action.objectKey;

    // Act
    const parsed = parseInboundRecord(sqsRecordFor(notification));

    // Assess
    if (parsed.ok) throw new Error('expected a refusal');
    expect(parsed.problems).toHaveLength(2);
    expect(parsed.problems.join('\n')).toMatch(/receipt\.recipients/);
    expect(parsed.problems.join('\n')).toMatch(/receipt\.action\.objectKey/);
  });

  it('refuses something that is not an SQS record at all', () => {
    expect(parseInboundRecord('nope')).toMatchObject({ ok: false, sqsMessageId: undefined });
  });
});

describe('verdicts and the InboundMail', () => {
  it('takes verdicts from the receipt; a missing one is NONE, an unknown one is not a pass', () => {
    // Prepare
    const notification = notificationVariant({
      verdicts: { spam: 'FAIL', spf: 'SOMETHING_NEW', dkim: 'disabled' },
    });
    delete notification.receipt['virusVerdict'];

    // Act
    const parsed = parseInboundRecord(sqsRecordFor(notification));

    // Assess
    if (!parsed.ok) throw new Error(parsed.problems.join('\n'));
    expect(verdictsFromReceipt(parsed.notification.receipt)).toEqual({
      spf: 'PROCESSING_FAILED',
      dkim: 'DISABLED',
      dmarc: 'GRAY',
      spam: 'FAIL',
      virus: 'NONE',
      source: 'ses',
    });
  });

  it('keeps dmarcPolicy when SES gives it (DMARC failed)', () => {
    // Prepare
    const notification = notificationVariant({ verdicts: { dmarc: 'FAIL' }, dmarcPolicy: 'REJECT' });

    // Act
    const parsed = parseInboundRecord(sqsRecordFor(notification));

    // Assess
    if (!parsed.ok) throw new Error(parsed.problems.join('\n'));
    expect(verdictsFromReceipt(parsed.notification.receipt)).toMatchObject({
      dmarc: 'FAIL',
      dmarcPolicy: 'reject',
    });
  });

  it('builds the InboundMail from the receipt: id, raw key, envelope recipients (Bcc included)', () => {
    // Prepare
    const notification = notificationVariant({
      messageId: 'abc123',
      recipients: ['support+game@desk.example.com', 'hidden-bcc@desk.example.com'],
    });

    // Act
    const parsed = parseInboundRecord(sqsRecordFor(notification));
    if (!parsed.ok) throw new Error(parsed.problems.join('\n'));
    const mail = toInboundMail(parsed.notification);

    // Assess
    expect(mail).toEqual({
      id: 'abc123',
      rawKey: 'mail/abc123',
      envelope: {
        recipients: ['support+game@desk.example.com', 'hidden-bcc@desk.example.com'],
        mailFrom: 'prvs=144d0cba7=sender@example.com',
      },
      verdicts: { spf: 'PASS', dkim: 'PASS', dmarc: 'GRAY', spam: 'PASS', virus: 'PASS', source: 'ses' },
      receivedAt: new Date('2019-08-05T21:30:02.028Z'),
    });
  });
});
