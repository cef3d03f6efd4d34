import { readFileSync } from 'node:fs';
import { PutObjectCommand, S3Client } from '@aws-sdk/client-s3';
import { GetSecretValueCommand, SecretsManagerClient } from '@aws-sdk/client-secrets-manager';
import { SendMessageCommand, SQSClient } from '@aws-sdk/client-sqs';
import type { Context, SQSBatchResponse, SQSEvent } from 'aws-lambda';
import { mockClient } from 'aws-sdk-client-mock';
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { createLambdaLogger } from '../../../adapters/aws/logger.ts';
import { createDeskMetrics } from '../../../adapters/aws/metrics.ts';
import { createInboundHandler } from '../../../functions/inbound/handler.ts';
import { createInboundWiring } from '../../../functions/inbound/wiring.ts';
import { captureStdout } from '../../aws/log-capture.ts';
import { fakeBucket } from '../../aws/s3-fakes.ts';
import { FAKE_GITLAB_TOKEN, type FakeGitLab, startFakeGitLab } from '../../support/fake-gitlab.ts';
import { notificationVariant, sqsEvent, sqsRecordFor } from './events.ts';

/**
 * The inbound function end to end: real handler, real wiring, real pipeline and GitLab adapter,
 * against the fake GitLab on loopback; S3 and Secrets Manager are aws-sdk-client-mock, with an
 * in-memory bucket that honours S3's conditional writes. Raw mail is a real fixture streamed from
 * the mocked GetObject, as SES's S3 action would have stored it.
 */

const BUCKET = 'postdesk-desk-123456789012';
const KEY_ARN = 'arn:aws:kms:us-east-1:123456789012:key/desk';
const SECRET_ID = 'postdesk/desk';
const REPLY_KEY = 'e2e-reply-key-0123456789abcdef';
const ROTATED_TOKEN = 'glpat-rotated-e2e-token-9999';
const DESK = 'support+game@desk.example.com';

/** A real mail: Nodemailer's 2011 test message (multipart, attachments, an RFC 2047 subject). */
const CUSTOMER_EML = readFileSync(
  new URL('../../fixtures/corpus/emails/mailparser/history-2012/test.eml', import.meta.url),
);
/** Not a mail at all (test/fixtures/mail/parse/binary-garbage.bin). */
const GARBAGE = readFileSync(new URL('../../fixtures/mail/parse/binary-garbage.bin', import.meta.url));

const context = {
  functionName: 'postdesk-inbound',
  awsRequestId: 'e2e-request',
  invokedFunctionArn: 'arn:aws:lambda:us-east-1:123456789012:function:postdesk-inbound',
  memoryLimitInMB: '512',
  getRemainingTimeInMillis: () => 60_000,
} as Context;

const OUTBOUND_QUEUE = 'https://sqs.us-east-1.amazonaws.com/123456789012/postdesk-outbound';

const s3 = mockClient(S3Client);
const sm = mockClient(SecretsManagerClient);
const sqs = mockClient(SQSClient);

describe('inbound function end to end', () => {
  let gitlab: FakeGitLab;
  let capture: ReturnType<typeof captureStdout>;
  const everyLogLine: string[] = [];

  beforeAll(async () => {
    gitlab = await startFakeGitLab();
  });
  afterAll(async () => {
    await gitlab.close();
  });

  beforeEach(() => {
    s3.reset();
    sm.reset();
    sqs.reset();
    sqs.on(SendMessageCommand).resolves({ MessageId: 'queued' });
    capture = captureStdout();
  });
  afterEach(() => {
    everyLogLine.push(...capture.lines);
    capture.restore();
  });

  const setup = (options: { tokens?: string[] } = {}) => {
    const bucket = fakeBucket(s3, BUCKET);
    const tokens = options.tokens ?? [FAKE_GITLAB_TOKEN];
    let reads = 0;
    sm.on(GetSecretValueCommand).callsFake(async () => {
      const token = tokens[Math.min(reads, tokens.length - 1)];
      reads += 1;
      return { SecretString: `forge_token: ${token}\nreply_key: ${REPLY_KEY}\n` };
    });
    const env = {
      POSTDESK_BUCKET: BUCKET,
      POSTDESK_KMS_KEY_ID: KEY_ARN,
      POSTDESK_SECRET_ID: SECRET_ID,
      POSTDESK_OUTBOUND_QUEUE_URL: OUTBOUND_QUEUE,
      POSTDESK_CONFIG: `domain: desk.example.com
forge:
  kind: gitlab
  url: ${gitlab.url}
projects:
  - path: acme/game
    key: game
  - path: acme/gone
    key: gone
`,
    };
    const logger = createLambdaLogger({ serviceName: 'postdesk-inbound' });
    const metrics = createDeskMetrics({ namespace: 'Postdesk', serviceName: 'postdesk-inbound' });
    const handler = createInboundHandler({
      logger,
      metrics,
      wiring: () =>
        createInboundWiring({
          env,
          logger,
          metrics,
          gitlab: { retry: { attempts: 2, sleep: async () => undefined }, timeoutMs: 5_000 },
        }),
      timeoutEarlyInMillis: 0,
    });
    const invoke = (event: SQSEvent) => handler(event, context) as Promise<SQSBatchResponse>;
    /** Stores the raw mail as SES would and returns the SQS record announcing it. */
    const arrive = (messageId: string, raw: Buffer, recipients = [DESK]) => {
      bucket.seed(`mail/${messageId}`, raw);
      return sqsRecordFor(notificationVariant({ messageId, recipients, bucket: BUCKET }), {
        sqsMessageId: `sqs-${messageId}`,
      });
    };
    const decisions = () => capture.json().filter((line) => line['message'] === 'decision');
    return { bucket, invoke, arrive, decisions };
  };

  it('turns a customer mail into an issue on GitLab, every state write encrypted with the desk key', async () => {
    // Prepare
    const { invoke, arrive, decisions } = setup();
    const before = gitlab.issues('acme/game').length;

    // Act
    const response = await invoke(sqsEvent(arrive('e2e-new-1', CUSTOMER_EML)));

    // Assess
    expect(response).toEqual({ batchItemFailures: [] });
    const issues = gitlab.issues('acme/game');
    expect(issues).toHaveLength(before + 1);
    expect(issues.at(-1)?.title).toMatch(/^Nodemailer is totally-totally punicode/);
    const [decision] = decisions();
    expect(decision).toMatchObject({
      ses_message_id: 'e2e-new-1',
      trace: { mailId: 'e2e-new-1', outcome: 'issue' },
    });
    const puts = s3.commandCalls(PutObjectCommand).map((call) => call.args[0].input);
    expect(puts.length).toBeGreaterThan(0);
    for (const put of puts) {
      expect(put).toMatchObject({ Bucket: BUCKET, ServerSideEncryption: 'aws:kms', SSEKMSKeyId: KEY_ARN });
    }
    expect(puts.some((put) => put.IfNoneMatch === '*')).toBe(true);
    // GitLab's thank-you mail to the requester, queued for the notify function.
    const queued = sqs.commandCalls(SendMessageCommand).map((call) => call.args[0].input);
    expect(queued).toHaveLength(1);
    expect(queued[0]).toMatchObject({
      QueueUrl: OUTBOUND_QUEUE,
      MessageAttributes: { kind: { DataType: 'String', StringValue: 'thank_you' } },
    });
  });

  it('creates one issue when SQS delivers the same message twice', async () => {
    // Prepare
    const { invoke, arrive } = setup();
    const record = arrive('e2e-dup-1', CUSTOMER_EML);
    const before = gitlab.issues('acme/game').length;

    // Act
    const first = await invoke(sqsEvent(record));
    const second = await invoke(sqsEvent(record));

    // Assess
    expect(first).toEqual({ batchItemFailures: [] });
    expect(second).toEqual({ batchItemFailures: [] });
    expect(gitlab.issues('acme/game')).toHaveLength(before + 1);
    expect(sqs.commandCalls(SendMessageCommand)).toHaveLength(1);
  });

  it('fails only the record that met a forge outage, and delivers it on redelivery', async () => {
    // Prepare
    const { invoke, arrive } = setup();
    const down = arrive('e2e-outage-1', CUSTOMER_EML);
    const fine = arrive('e2e-outage-2', CUSTOMER_EML);
    const before = gitlab.issues('acme/game').length;
    // The first mail's first request fails on both of the adapter's attempts.
    gitlab.failNext(2, { status: 503 });

    // Act
    const response = await invoke(sqsEvent(down, fine));
    const redelivered = await invoke(sqsEvent(down));

    // Assess
    expect(response).toEqual({ batchItemFailures: [{ itemIdentifier: 'sqs-e2e-outage-1' }] });
    expect(redelivered).toEqual({ batchItemFailures: [] });
    expect(gitlab.issues('acme/game')).toHaveLength(before + 2);
  });

  it('quarantines an unparseable mail without failing the batch or retrying it', async () => {
    // Prepare
    const { invoke, arrive, decisions, bucket } = setup();

    // Act
    const response = await invoke(
      sqsEvent(arrive('e2e-garbage-1', GARBAGE), arrive('e2e-ok-after-garbage', CUSTOMER_EML)),
    );

    // Assess
    expect(response).toEqual({ batchItemFailures: [] });
    const [garbage, ok] = decisions();
    expect(garbage).toMatchObject({ trace: { mailId: 'e2e-garbage-1', reason: 'unparseable' } });
    expect(garbage).toMatchObject({ trace: { outcome: 'quarantined' } });
    const entry = JSON.parse(bucket.text('quarantine/e2e-garbage-1.json') ?? '{}');
    expect(entry).toMatchObject({ mailId: 'e2e-garbage-1', reason: 'unparseable' });
    expect(ok).toMatchObject({ trace: { outcome: 'issue' } });
  });

  it('quarantines a mail the forge refuses for good (project not found) and lets the batch succeed', async () => {
    // Prepare
    const { invoke, arrive, bucket } = setup();

    // Act
    const response = await invoke(
      sqsEvent(arrive('e2e-gone-1', CUSTOMER_EML, ['support+gone@desk.example.com'])),
    );

    // Assess
    expect(response).toEqual({ batchItemFailures: [] });
    const entry = JSON.parse(bucket.text('quarantine/e2e-gone-1.json') ?? '{}');
    expect(entry).toMatchObject({
      mailId: 'e2e-gone-1',
      rawKey: 'mail/e2e-gone-1',
      trace: { outcome: 'quarantined' },
    });
  });

  it('quarantines a mail whose raw object has expired', async () => {
    // Prepare
    const { invoke, bucket } = setup();
    const record = sqsRecordFor(
      notificationVariant({ messageId: 'e2e-expired', recipients: [DESK], bucket: BUCKET }),
    );

    // Act
    const response = await invoke(sqsEvent(record));

    // Assess
    expect(response).toEqual({ batchItemFailures: [] });
    expect(bucket.keys('quarantine/')).toEqual(['quarantine/e2e-expired.json']);
  });

  it('re-reads the secret when GitLab rejects a rotated token, and delivers with the new one', async () => {
    // Prepare: the secret still holds a revoked token; the next read gives the new one.
    gitlab.addToken({ value: ROTATED_TOKEN, userId: 2 });
    gitlab.addToken({ value: 'glpat-revoked-e2e-token-0000', userId: 2 });
    gitlab.revokeToken('glpat-revoked-e2e-token-0000');
    const { invoke, arrive } = setup({ tokens: ['glpat-revoked-e2e-token-0000', ROTATED_TOKEN] });
    const record = arrive('e2e-rotated-1', CUSTOMER_EML);
    const before = gitlab.issues('acme/game').length;

    // Act: the 401 comes on an attachment upload, whose stream cannot be replayed, so the adapter
    // checks the re-read token and hands the mail back; the redelivery goes through.
    const first = await invoke(sqsEvent(record));
    const redelivered = await invoke(sqsEvent(record));

    // Assess
    expect(first).toEqual({ batchItemFailures: [{ itemIdentifier: 'sqs-e2e-rotated-1' }] });
    expect(redelivered).toEqual({ batchItemFailures: [] });
    expect(gitlab.issues('acme/game')).toHaveLength(before + 1);
    expect(sm.commandCalls(GetSecretValueCommand)).toHaveLength(2);
    const failure = capture.json().find((line) => line['message'] === 'record failed; SQS will redeliver it');
    expect(failure?.['error']).toMatch(/GitLab rejected the bot token \(401\)/);
  });

  it('never wrote a secret value to a log line (every test above)', () => {
    // Assess
    expect(everyLogLine.length).toBeGreaterThan(10);
    const all = everyLogLine.join('\n');
    for (const value of [FAKE_GITLAB_TOKEN, REPLY_KEY, ROTATED_TOKEN, 'glpat-revoked-e2e-token-0000']) {
      expect(all).not.toContain(value);
    }
  });
});
