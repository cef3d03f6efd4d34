import { describe, expect, it } from 'vitest';
import { applySesFeedback, parseSesFeedback } from '../../core/outbound/feedback.ts';
import type { NotifyJob } from '../../core/outbound/jobs.ts';
import { createNotifier } from '../../core/outbound/notify.ts';
import { deskState } from '../support/desk-state.ts';
import {
  deskConfig,
  fakeForge,
  fixedClock,
  memoryStore,
  PROJECT,
  recordingLogger,
  recordingMailer,
  seedTicket,
  staticSecrets,
} from './support.ts';

/** An SES bounce notification, shaped as the SES Developer Guide's "bounce object" examples. */
const bounce = (messageId: string, bounceType = 'Permanent', address = 'ada@customer.example') => ({
  notificationType: 'Bounce',
  bounce: {
    feedbackId: '0102019c-feedback-000000',
    bounceType,
    bounceSubType: bounceType === 'Permanent' ? 'General' : 'MailboxFull',
    bouncedRecipients: [
      {
        emailAddress: address,
        action: 'failed',
        status: '5.1.1',
        diagnosticCode: 'smtp; 550 5.1.1 user unknown',
      },
    ],
    timestamp: '2026-03-02T10:05:00.000Z',
    reportingMTA: 'dsn; a1-2.smtp-out.eu-west-1.amazonses.com',
  },
  mail: {
    timestamp: '2026-03-02T10:04:59.000Z',
    source: 'support@desk.example.com',
    messageId,
    destination: [address],
  },
});

const complaint = (messageId: string) => ({
  notificationType: 'Complaint',
  complaint: {
    complainedRecipients: [{ emailAddress: 'ada@customer.example' }],
    timestamp: '2026-03-02T10:06:00.000Z',
    feedbackId: '0102019c-complaint-000000',
    complaintFeedbackType: 'abuse',
  },
  mail: {
    timestamp: '2026-03-02T10:04:59.000Z',
    source: 'support@desk.example.com',
    messageId,
    destination: ['ada@customer.example'],
  },
});

/** SNS wraps the notification in an envelope unless raw message delivery is on. */
const snsEnvelope = (message: unknown) =>
  JSON.stringify({
    Type: 'Notification',
    MessageId: '5f1f1b1e-0000-0000-0000-000000000000',
    TopicArn: 'arn:aws:sns:eu-west-1:123456789012:postdesk-ses-feedback',
    Message: JSON.stringify(message),
    Timestamp: '2026-03-02T10:05:01.000Z',
  });

const job: NotifyJob = {
  v: 1,
  kind: 'new_note',
  project: PROJECT,
  iid: 17,
  to: 'ada@customer.example',
  title: 'Printer on fire',
  noteId: 1,
  noteText: 'Hello',
};

const setup = async () => {
  const store = memoryStore();
  const clock = fixedClock();
  await seedTicket(store, 17, [{ address: 'ada@customer.example' }, { address: 'bob@customer.example' }], {
    clock,
  });
  const mailer = recordingMailer();
  const logger = recordingLogger();
  const send = createNotifier({
    config: deskConfig(),
    state: deskState(store, clock),
    forge: fakeForge(),
    mailer,
    secrets: staticSecrets(),
    clock,
    logger,
  });
  return { store, clock, mailer, logger, send };
};

describe('SES feedback', () => {
  it('reads the SNS envelope, raw delivery, and configuration-set events', () => {
    expect(parseSesFeedback(snsEnvelope(bounce('x')))?.notificationType).toBe('Bounce');
    expect(parseSesFeedback(JSON.stringify(bounce('x')))?.notificationType).toBe('Bounce');
    const event = { ...complaint('x'), notificationType: undefined, eventType: 'Complaint' };
    expect(parseSesFeedback(JSON.stringify(event))?.eventType).toBe('Complaint');
    expect(parseSesFeedback('{"v":1,"kind":"new_note"}')).toBeUndefined();
    expect(parseSesFeedback('garbage')).toBeUndefined();
  });

  it('a permanent bounce marks the participant undeliverable, then nothing more is sent to them', async () => {
    // Prepare: one mail went out; SES returned the id the bounce refers to
    const { store, mailer, logger, send } = await setup();
    await send(job);
    const sesId = mailer.sent[0]?.messageId ?? '';
    // Act
    const feedback = parseSesFeedback(snsEnvelope(bounce(sesId)));
    if (!feedback) throw new Error('not parsed');
    const result = await applySesFeedback(feedback, { state: deskState(store), logger });
    // Assess
    expect(result.marked).toEqual([{ address: 'ada@customer.example', project: PROJECT, iid: 17 }]);
    const record = await deskState(store).tickets.get(PROJECT, 17);
    expect(record?.participants[0]?.undeliverable?.reason).toBe('bounce: Permanent/General 5.1.1');
    expect(record?.participants[1]?.undeliverable).toBeUndefined();
    expect(await send({ ...job, noteId: 2 })).toEqual({ status: 'skipped', reason: 'undeliverable' });
    expect((await send({ ...job, noteId: 2, to: 'bob@customer.example' })).status).toBe('sent');
    expect(mailer.sent.map((mail) => mail.to[0])).toEqual(['ada@customer.example', 'bob@customer.example']);
  });

  it('a complaint marks the participant undeliverable', async () => {
    const { store, mailer, logger, send } = await setup();
    await send(job);
    const feedback = parseSesFeedback(JSON.stringify(complaint(mailer.sent[0]?.messageId ?? '')));
    if (!feedback) throw new Error('not parsed');
    await applySesFeedback(feedback, { state: deskState(store), logger });
    const record = await deskState(store).tickets.get(PROJECT, 17);
    expect(record?.participants[0]?.undeliverable?.reason).toBe('complaint: abuse');
  });

  it('a transient bounce changes nothing', async () => {
    const { store, mailer, logger, send } = await setup();
    await send(job);
    const feedback = parseSesFeedback(JSON.stringify(bounce(mailer.sent[0]?.messageId ?? '', 'Transient')));
    if (!feedback) throw new Error('not parsed');
    expect((await applySesFeedback(feedback, { state: deskState(store), logger })).ignored).toBe(
      'not_permanent',
    );
    expect((await send({ ...job, noteId: 2 })).status).toBe('sent');
  });

  it('feedback about a mail on no ticket is logged and ignored', async () => {
    const { store, logger } = await setup();
    const feedback = parseSesFeedback(JSON.stringify(bounce('0102019c-unknown-000000')));
    if (!feedback) throw new Error('not parsed');
    expect((await applySesFeedback(feedback, { state: deskState(store), logger })).ignored).toBe(
      'unknown_message',
    );
    expect(logger.lines.some((line) => line.level === 'warn')).toBe(true);
  });
});
