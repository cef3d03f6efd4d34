import { SESv2Client, SendEmailCommand } from '@aws-sdk/client-sesv2';
import type { Context, SQSBatchResponse, SQSEvent } from 'aws-lambda';
import { mockClient } from 'aws-sdk-client-mock';
import { simpleParser } from 'mailparser';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { createLambdaLogger } from '../../adapters/aws/logger.ts';
import { createDeskMetrics } from '../../adapters/aws/metrics.ts';
import { SesMailer, sesMessageIdForms } from '../../adapters/aws/ses-mailer.ts';
import { TransientError } from '../../core/errors.ts';
import type { FetchUpload } from '../../core/outbound/attachments.ts';
import type { NewNoteJob, NotifyJob } from '../../core/outbound/jobs.ts';
import { createNotifier, type NotifyDeps, suppressionNotice } from '../../core/outbound/notify.ts';
import { templatePath } from '../../core/outbound/templates.ts';
import { parseReplyToken, verifyReplyToken } from '../../core/threading/reply-token.ts';
import { createNotifyHandler } from '../../functions/notify/handler.ts';
import { captureStdout } from '../aws/log-capture.ts';
import { deskState } from '../support/desk-state.ts';
import {
  deskConfig,
  fakeForge,
  fixedClock,
  memoryStore,
  PROJECT,
  REPLY_KEY,
  recordingLogger,
  recordingMailer,
  seedTicket,
  staticSecrets,
} from './support.ts';

const noteJob = (overrides: Partial<NewNoteJob> = {}): NotifyJob => ({
  v: 1,
  kind: 'new_note',
  project: PROJECT,
  iid: 17,
  to: 'ada@customer.example',
  title: 'Printer on fire',
  noteId: 1241,
  noteText: 'We replaced the **fuser**.',
  authorName: 'Grace Agent',
  projectWebUrl: 'https://gitlab.example.com/gitlab-org/gitlab-test',
  ...overrides,
});

const setup = async (
  options: {
    config?: ReturnType<typeof deskConfig>;
    files?: Record<string, string>;
    fetchUpload?: FetchUpload;
  } = {},
) => {
  const store = memoryStore();
  const clock = fixedClock();
  await seedTicket(
    store,
    17,
    [{ address: 'ada@customer.example', name: 'Ada Customer' }, { address: 'bob@customer.example' }],
    {
      clock,
    },
  );
  const forge = fakeForge(options.files);
  const mailer = recordingMailer();
  const logger = recordingLogger();
  const deps: NotifyDeps = {
    config: options.config ?? deskConfig(),
    state: deskState(store, clock),
    forge,
    mailer,
    secrets: staticSecrets(),
    clock,
    logger,
    ...(options.fetchUpload ? { fetchUpload: options.fetchUpload } : {}),
  };
  return { store, clock, forge, mailer, logger, deps, send: createNotifier(deps) };
};

describe('sending a notification', () => {
  it('renders, composes and sends new_note, and records the SES id on the ticket and in the index', async () => {
    // Prepare
    const { send, mailer, store } = await setup();
    // Act
    const outcome = await send(noteJob());
    // Assess
    expect(outcome).toEqual({
      status: 'sent',
      messageId: '0102019c-0001-000000@eu-west-1.amazonses.com',
      attachments: 0,
    });
    expect(mailer.sent).toHaveLength(1);
    const mail = await simpleParser(mailer.sent[0]?.raw ?? Buffer.alloc(0));
    expect(mailer.sent[0]?.from).toBe('support@desk.example.com');
    expect(mailer.sent[0]?.to).toEqual(['ada@customer.example']);
    expect(mail.from?.value[0]).toEqual({
      name: 'Grace Agent via Acme Support',
      address: 'support@desk.example.com',
    });
    expect(mail.subject).toBe('Re: Printer on fire (#17)');
    expect(mail.html).toContain('We replaced the <strong>fuser</strong>.');
    expect(mail.inReplyTo).toBe('<original-17@mail.customer.example>');

    const tickets = deskState(store).tickets;
    const record = await tickets.get(PROJECT, 17);
    expect(record?.outboundMessageIds).toEqual(['0102019c-0001-000000@eu-west-1.amazonses.com']);
    for (const id of [
      '<0102019c-0001-000000@eu-west-1.amazonses.com>',
      '0102019c-0001-000000@email.amazonses.com',
      '0102019c-0001-000000',
      mail.messageId ?? '',
    ]) {
      expect(await tickets.lookupMessageId(id)).toEqual([{ projectPath: PROJECT, iid: 17 }]);
    }
  });

  it("Reply-To is the participant's signed reply address", async () => {
    const { send, mailer } = await setup();
    await send(noteJob({ to: 'bob@customer.example' }));
    const mail = await simpleParser(mailer.sent[0]?.raw ?? Buffer.alloc(0));
    const replyTo = mail.replyTo?.value[0]?.address ?? '';
    const match = /^support\+(r-[^@]+)@desk\.example\.com$/.exec(replyTo);
    const token = parseReplyToken(match?.[1] ?? '');
    expect(token).toMatchObject({ projectKey: 'test', issueIid: 17, participantIndex: 1 });
    expect(token && verifyReplyToken(REPLY_KEY, token, PROJECT, 'bob@customer.example')).toBe(true);
  });

  it('the next mail threads under the previous one', async () => {
    const { send, mailer } = await setup();
    await send(noteJob({ noteId: 1 }));
    await send(noteJob({ noteId: 2 }));
    const second = await simpleParser(mailer.sent[1]?.raw ?? Buffer.alloc(0));
    expect(second.references).toEqual([
      '<original-17@mail.customer.example>',
      '<0102019c-0001-000000@eu-west-1.amazonses.com>',
      second.messageId,
    ]);
  });

  it('a job delivered twice is sent once', async () => {
    const { send, mailer } = await setup();
    expect((await send(noteJob())).status).toBe('sent');
    expect(await send(noteJob())).toEqual({ status: 'skipped', reason: 'already_sent' });
    expect(mailer.sent).toHaveLength(1);
  });

  it('uses the repository template', async () => {
    const { send, mailer } = await setup({
      files: { [templatePath('new_note')]: 'From the team, on %{ ISSUE_PATH }:\n\n%{NOTE_TEXT}' },
    });
    await send(noteJob());
    const mail = await simpleParser(mailer.sent[0]?.raw ?? Buffer.alloc(0));
    expect(mail.text).toContain('From the team, on gitlab-org/gitlab-test#17:');
    expect(mail.html).toContain('<strong>fuser</strong>');
  });

  it('fills a missing title from the forge', async () => {
    const { send, mailer } = await setup();
    await send({ ...noteJob(), title: '' });
    expect((await simpleParser(mailer.sent[0]?.raw ?? Buffer.alloc(0))).subject).toBe(
      'Re: Fetched title (#17)',
    );
  });

  it('skips a recipient who is not a participant, or whose project turned notifications off', async () => {
    const { send, mailer } = await setup();
    expect(await send(noteJob({ to: 'mallory@evil.example' }))).toEqual({
      status: 'skipped',
      reason: 'not_a_participant',
    });
    const off = await setup({ config: deskConfig({}, { notifications: { new_note: false } }) });
    expect(await off.send(noteJob())).toEqual({ status: 'skipped', reason: 'notifications_disabled' });
    expect(mailer.sent).toHaveLength(0);
    expect(off.mailer.sent).toHaveLength(0);
  });
});

describe('note uploads', () => {
  const upload = (name: string, bytes: number) => ({
    filename: name,
    contentType: 'application/pdf',
    content: Buffer.alloc(bytes, 1),
  });
  const note = (names: string[]) =>
    `See the files: ${names.map((name) => `[${name}](/uploads/0123456789abcdef0123456789abcdef/${name})`).join(' ')}`;

  it('attaches uploads up to 10 MB in total and says so in the text', async () => {
    // Prepare
    const fetched: string[] = [];
    const { send, mailer } = await setup({
      fetchUpload: async (url) => {
        fetched.push(url);
        return upload(url.split('/').pop() ?? 'x', 1024);
      },
    });
    // Act
    const outcome = await send(noteJob({ noteText: note(['a.pdf', 'b.pdf']) }));
    // Assess
    expect(outcome).toMatchObject({ status: 'sent', attachments: 2 });
    expect(fetched).toEqual([
      'https://gitlab.example.com/gitlab-org/gitlab-test/uploads/0123456789abcdef0123456789abcdef/a.pdf',
      'https://gitlab.example.com/gitlab-org/gitlab-test/uploads/0123456789abcdef0123456789abcdef/b.pdf',
    ]);
    const mail = await simpleParser(mailer.sent[0]?.raw ?? Buffer.alloc(0));
    expect(mail.attachments.map((file) => file.filename)).toEqual(['a.pdf', 'b.pdf']);
    expect(mail.text).toContain('**a.pdf** (attached)');
    expect(mail.text).not.toContain('/uploads/');
  });

  it('leaves every upload a link when together they are over 10 MB (GitLab)', async () => {
    const { send, mailer } = await setup({
      fetchUpload: async (url) => upload(url.split('/').pop() ?? 'x', 6 * 1024 * 1024),
    });
    const outcome = await send(noteJob({ noteText: note(['a.pdf', 'b.pdf']) }));
    expect(outcome).toMatchObject({ status: 'sent', attachments: 0 });
    const mail = await simpleParser(mailer.sent[0]?.raw ?? Buffer.alloc(0));
    expect(mail.attachments).toHaveLength(0);
    expect(mail.html).toContain(
      'href="https://gitlab.example.com/gitlab-org/gitlab-test/uploads/0123456789abcdef0123456789abcdef/a.pdf"',
    );
  });
});

describe('outbound daily limit', () => {
  it('over the limit: no mail, one internal note on the issue (throttled), as GitLab', async () => {
    // Prepare
    const { send, mailer, forge } = await setup({
      config: deskConfig({ rate_limits: { outbound_per_day: 1 } }),
    });
    // Act
    const first = await send(noteJob({ noteId: 1 }));
    const second = await send(noteJob({ noteId: 2 }));
    const third = await send(noteJob({ noteId: 3, to: 'bob@customer.example' }));
    // Assess
    expect(first.status).toBe('sent');
    expect(second).toEqual({ status: 'suppressed', reason: 'outbound_limit', noticePosted: true });
    expect(third).toEqual({ status: 'suppressed', reason: 'outbound_limit', noticePosted: false });
    expect(mailer.sent).toHaveLength(1);
    expect(forge.notes).toEqual([{ project: PROJECT, iid: 17, body: suppressionNotice(1), internal: true }]);
    expect(suppressionNotice(1)).toContain(
      'Postdesk has not sent emails for recent activity on this ticket because the desk exceeded its outbound email limit',
    );
  });

  it('0 means no limit', async () => {
    const { send, mailer } = await setup({ config: deskConfig({ rate_limits: { outbound_per_day: 0 } }) });
    for (let i = 1; i <= 3; i++) await send(noteJob({ noteId: i }));
    expect(mailer.sent).toHaveLength(3);
  });
});

describe('bounces and unsubscribes at send time', () => {
  it('an undeliverable participant gets nothing more', async () => {
    const { send, mailer, store } = await setup();
    await deskState(store).tickets.markUndeliverable(
      PROJECT,
      17,
      'ada@customer.example',
      'bounce: Permanent',
    );
    expect(await send(noteJob())).toEqual({ status: 'skipped', reason: 'undeliverable' });
    expect(mailer.sent).toHaveLength(0);
  });

  it('an unsubscribed participant gets nothing more', async () => {
    const { send, mailer, store } = await setup();
    await deskState(store).outbound.unsubscribe(PROJECT, 17, 'ADA@customer.example');
    expect(await send(noteJob())).toEqual({ status: 'skipped', reason: 'unsubscribed' });
    expect(mailer.sent).toHaveLength(0);
  });
});

describe('SES mailer', () => {
  const ses = mockClient(SESv2Client);
  beforeEach(() => ses.reset());

  it('sends raw content with SendEmail and returns the SES MessageId', async () => {
    ses.on(SendEmailCommand).resolves({ MessageId: '0102019c-abcd-000000' });
    const mailer = new SesMailer({ client: new SESv2Client({ region: 'eu-west-1' }), region: 'eu-west-1' });
    const raw = Buffer.from('Subject: hi\r\n\r\nbody');
    expect(
      await mailer.sendRaw({ from: 'support@desk.example.com', to: ['ada@customer.example'], raw }),
    ).toEqual({
      messageId: '0102019c-abcd-000000',
    });
    const input = ses.commandCalls(SendEmailCommand)[0]?.args[0].input;
    expect(input?.FromEmailAddress).toBe('support@desk.example.com');
    expect(input?.Destination?.ToAddresses).toEqual(['ada@customer.example']);
    expect(Buffer.from(input?.Content?.Raw?.Data ?? new Uint8Array()).toString()).toBe(raw.toString());
  });

  it('throttling is transient (the job is retried)', async () => {
    ses
      .on(SendEmailCommand)
      .rejects(Object.assign(new Error('slow down'), { name: 'TooManyRequestsException' }));
    const mailer = new SesMailer({ client: new SESv2Client({ region: 'eu-west-1' }), region: 'eu-west-1' });
    await expect(
      mailer.sendRaw({ from: 'a@b.example', to: ['c@d.example'], raw: Buffer.from('x') }),
    ).rejects.toBeInstanceOf(TransientError);
  });

  it('knows the header forms of an SES id', () => {
    expect(sesMessageIdForms('0102-x-000000', 'us-east-1')).toEqual([
      '0102-x-000000@email.amazonses.com',
      '0102-x-000000@us-east-1.amazonses.com',
      '0102-x-000000',
    ]);
    expect(sesMessageIdForms('0102-x-000000', 'eu-west-1')[0]).toBe('0102-x-000000@eu-west-1.amazonses.com');
  });
});

describe('notify function (SQS batch, SES)', () => {
  const ses = mockClient(SESv2Client);
  let capture: ReturnType<typeof captureStdout>;
  const context = {
    functionName: 'postdesk-notify',
    awsRequestId: 'notify-request',
    invokedFunctionArn: 'arn:aws:lambda:eu-west-1:123456789012:function:postdesk-notify',
    memoryLimitInMB: '512',
    getRemainingTimeInMillis: () => 60_000,
  } as Context;

  beforeEach(() => {
    ses.reset();
    capture = captureStdout();
  });
  afterEach(() => capture.restore());

  const lambda = async () => {
    const { deps, store } = await setup();
    const logger = createLambdaLogger({ serviceName: 'postdesk-notify' });
    const metrics = createDeskMetrics({ namespace: 'Postdesk', serviceName: 'postdesk-notify' });
    const wired = {
      ...deps,
      logger,
      mailer: new SesMailer({ client: new SESv2Client({ region: 'eu-west-1' }), region: 'eu-west-1' }),
    };
    const handler = createNotifyHandler({
      logger,
      metrics,
      wiring: async () => ({ deps: wired, send: createNotifier(wired), jobs: store }),
      timeoutEarlyInMillis: 0,
    });
    return {
      store,
      invoke: (event: SQSEvent) => handler(event, context) as Promise<SQSBatchResponse>,
    };
  };

  const record = (id: string, body: string) => ({
    messageId: id,
    receiptHandle: `rh-${id}`,
    body,
    attributes: {},
    messageAttributes: {},
    md5OfBody: '',
    eventSource: 'aws:sqs',
    eventSourceARN: 'arn:aws:sqs:eu-west-1:123456789012:postdesk-outbound',
    awsRegion: 'eu-west-1',
  });

  it('sends with SES raw content and stores the returned MessageId; a failing record fails alone', async () => {
    // Prepare
    const { invoke, store } = await lambda();
    ses
      .on(SendEmailCommand)
      .resolvesOnce({ MessageId: '0102019c-ses1-000000' })
      .rejectsOnce(Object.assign(new Error('Throttling'), { name: 'TooManyRequestsException' }));
    // Act
    const response = await invoke({
      Records: [
        record('m1', JSON.stringify(noteJob())),
        record('m2', JSON.stringify(noteJob({ to: 'bob@customer.example' }))),
        record('m3', 'not a job'),
      ],
    } as SQSEvent);
    // Assess
    expect(response).toEqual({ batchItemFailures: [{ itemIdentifier: 'm2' }] });
    const input = ses.commandCalls(SendEmailCommand)[0]?.args[0].input;
    const raw = Buffer.from(input?.Content?.Raw?.Data ?? new Uint8Array());
    const mail = await simpleParser(raw);
    expect(mail.subject).toBe('Re: Printer on fire (#17)');
    expect(mail.headers.get('x-postdesk-loop')).toBe('desk.example.com');
    const record17 = await deskState(store).tickets.get(PROJECT, 17);
    expect(record17?.outboundMessageIds).toEqual(['0102019c-ses1-000000@eu-west-1.amazonses.com']);
    expect(
      await deskState(store).tickets.lookupMessageId('<0102019c-ses1-000000@email.amazonses.com>'),
    ).toEqual([{ projectPath: PROJECT, iid: 17 }]);
  });
});
