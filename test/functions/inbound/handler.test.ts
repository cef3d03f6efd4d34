import { PutObjectCommand, S3Client } from '@aws-sdk/client-s3';
import type { Context, SQSBatchResponse, SQSEvent } from 'aws-lambda';
import { mockClient } from 'aws-sdk-client-mock';
import fc from 'fast-check';
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { createLambdaLogger } from '../../../adapters/aws/logger.ts';
import { createDeskMetrics } from '../../../adapters/aws/metrics.ts';
import { S3ObjectStore } from '../../../adapters/aws/s3-object-store.ts';
import { S3RawMailStore } from '../../../adapters/aws/s3-raw-mail-store.ts';
import { parseConfig } from '../../../core/config/parse.ts';
import { PermanentError, TransientError } from '../../../core/errors.ts';
import type { InboundMail } from '../../../core/model.ts';
import type { PipelineDeps } from '../../../core/pipeline.ts';
import { objectStoreState } from '../../../core/state/index.ts';
import type { DecisionTrace } from '../../../core/trace.ts';
import { createInboundHandler, LEASE_MARGIN_MS } from '../../../functions/inbound/handler.ts';
import type { InboundWiring } from '../../../functions/inbound/wiring.ts';
import { captureStdout } from '../../aws/log-capture.ts';
import { fakeBucket, s3Error } from '../../aws/s3-fakes.ts';
import { notificationVariant, readEvent, sqsEvent, sqsRecordFor, sqsRecordWithBody } from './events.ts';

// The handler is tested against a stand-in pipeline here (the end-to-end file runs the real one):
// what matters is how records map to mails and how outcomes map to the batch response.
vi.mock('../../../core/pipeline.ts', () => ({
  processMail: () => {
    throw new Error('the handler must use the injected pipeline in these tests');
  },
}));

const BUCKET = 'my-S3-bucket';
const KEY_ARN = 'arn:aws:kms:us-east-1:123456789012:key/desk';
const CONFIG = parseConfig(`domain: desk.example.com
forge:
  kind: gitlab
  url: https://gitlab.example.com
projects:
  - path: acme/game
    key: game
`);

const context = {
  functionName: 'postdesk-inbound',
  functionVersion: '$LATEST',
  invokedFunctionArn: 'arn:aws:lambda:us-east-1:123456789012:function:postdesk-inbound',
  memoryLimitInMB: '512',
  awsRequestId: 'c6af9ac6-7b61-11e6-9a41-93e812345678',
  logGroupName: '/aws/lambda/postdesk-inbound',
  logStreamName: '2026/01/01/[$LATEST]abc',
  callbackWaitsForEmptyEventLoop: true,
  getRemainingTimeInMillis: () => 60_000,
  done: () => undefined,
  fail: () => undefined,
  succeed: () => undefined,
} as Context;

const traceFor = (mail: InboundMail, outcome: DecisionTrace['outcome'] = 'issue'): DecisionTrace => ({
  mailId: mail.id,
  receivedAt: mail.receivedAt.toISOString(),
  mail: {},
  outcome,
  reason: outcome === 'issue' ? 'created' : 'test',
  message: '',
  routes: [],
  stages: [],
  deliveries: [{ project: 'acme/game', outcome, reason: 'created' }],
  dryRun: false,
});

const s3 = mockClient(S3Client);

const setup = (pipeline: (mail: InboundMail, deps: PipelineDeps) => Promise<DecisionTrace>) => {
  const bucket = fakeBucket(s3, BUCKET);
  const logger = createLambdaLogger({ serviceName: 'postdesk-inbound' });
  const metrics = createDeskMetrics({ namespace: 'Postdesk', serviceName: 'postdesk-inbound' });
  const client = new S3Client({});
  const clock = { now: () => new Date('2026-03-01T12:00:00.000Z') };
  const wiring = vi.fn(
    async (): Promise<InboundWiring> => ({
      bucket: BUCKET,
      deps: {
        config: CONFIG,
        rawStore: new S3RawMailStore({ client, bucket: BUCKET }),
        state: objectStoreState(
          new S3ObjectStore({ client, bucket: BUCKET, kmsKeyId: KEY_ARN, conflictDelayMs: 0 }),
          { clock },
        ),
        forge: { kind: 'none' } as PipelineDeps['forge'],
        secrets: { get: async () => ({}), refresh: async () => ({}) },
        clock,
        logger,
      },
    }),
  );
  const processMail = vi.fn(pipeline);
  const handler = createInboundHandler({ logger, metrics, wiring, processMail, timeoutEarlyInMillis: 0 });
  const invoke = (event: SQSEvent) => handler(event, context) as Promise<SQSBatchResponse>;
  return { bucket, wiring, processMail, invoke };
};

describe('inbound handler', () => {
  let capture: ReturnType<typeof captureStdout>;
  beforeEach(() => {
    s3.reset();
    capture = captureStdout();
  });
  afterEach(() => capture.restore());

  it('runs each valid record through the pipeline and reports no failures', async () => {
    // Prepare
    const { invoke, processMail } = setup(async (mail) => traceFor(mail));
    const event = readEvent<SQSEvent>('sqs/s3-action-via-sns.json');

    // Act
    const response = await invoke(event);

    // Assess
    expect(response).toEqual({ batchItemFailures: [] });
    expect(processMail).toHaveBeenCalledTimes(1);
    expect(processMail.mock.calls[0]?.[0]).toMatchObject({
      id: 'd6iitobk75ur44p8kdnnp7g2n800',
      rawKey: 'email',
      envelope: { recipients: ['recipient@example.com'] },
      verdicts: { spam: 'PASS', virus: 'PASS', spf: 'PASS', dkim: 'PASS', dmarc: 'NONE', source: 'ses' },
    });
  });

  it('fails only the record whose mail met a transient fault (partial batch response)', async () => {
    // Prepare
    const { invoke, processMail } = setup(async (mail) => {
      if (mail.id === 'm2') throw new TransientError('forge_unavailable', 'GitLab answered 503');
      return traceFor(mail);
    });
    const records = ['m1', 'm2', 'm3'].map((id) =>
      sqsRecordFor(notificationVariant({ messageId: id, bucket: BUCKET }), { sqsMessageId: `sqs-${id}` }),
    );

    // Act
    const response = await invoke(sqsEvent(...records));

    // Assess
    expect(response).toEqual({ batchItemFailures: [{ itemIdentifier: 'sqs-m2' }] });
    expect(processMail.mock.calls.map((call) => call[0].id)).toEqual(['m1', 'm2', 'm3']);
    const failure = capture.json().find((line) => line['message'] === 'record failed; SQS will redeliver it');
    expect(failure).toMatchObject({ sqs_message_id: 'sqs-m2', transient: true });
  });

  it('does not lose a mail whose permanent error escaped the pipeline: SQS redelivers, then dead-letters', async () => {
    // Prepare
    const { invoke } = setup(async () => {
      throw new PermanentError('state_corrupt', 'ticket record unreadable');
    });
    const record = sqsRecordFor(notificationVariant({ messageId: 'm1', bucket: BUCKET }), {
      sqsMessageId: 'sqs-m1',
    });

    // Act
    const response = await invoke(sqsEvent(record));

    // Assess
    expect(response).toEqual({ batchItemFailures: [{ itemIdentifier: 'sqs-m1' }] });
  });

  it('quarantines an invalid event as event_invalid and lets the batch succeed', async () => {
    // Prepare
    const { invoke, processMail, bucket } = setup(async (mail) => traceFor(mail));
    const good = sqsRecordFor(notificationVariant({ messageId: 'm1', bucket: BUCKET }), {
      sqsMessageId: 'sqs-good',
    });
    const bad = sqsRecordWithBody('{"Type":"Notification","MessageId":"x","Message":"{not json"}', 'sqs-bad');

    // Act
    const response = await invoke(sqsEvent(bad, good));

    // Assess
    expect(response).toEqual({ batchItemFailures: [] });
    expect(processMail).toHaveBeenCalledTimes(1);
    expect(bucket.keys('quarantine/')).toEqual(['quarantine/event-sqs-bad.json']);
    const entry = JSON.parse(bucket.text('quarantine/event-sqs-bad.json') ?? '{}');
    expect(entry).toMatchObject({
      version: 1,
      id: 'event-sqs-bad',
      mailId: 'sqs-sqs-bad',
      reason: 'event_invalid',
      trace: {
        outcome: 'quarantined',
        reason: 'event_invalid',
        stages: [{ stage: 'load', verdict: 'invalid', detail: { problems: ['body.Message: is not JSON'] } }],
      },
    });
    expect(entry.message).toMatch(/not a valid SES receipt notification/);
    // Written like every state object: encrypted with the desk key.
    const put = s3
      .commandCalls(PutObjectCommand)
      .find((call) => call.args[0].input.Key === 'quarantine/event-sqs-bad.json');
    expect(put?.args[0].input).toMatchObject({ ServerSideEncryption: 'aws:kms', SSEKMSKeyId: KEY_ARN });
    const warning = capture
      .json()
      .find((line) => line['message'] === 'invalid event quarantined; the record is not retried');
    expect(warning).toMatchObject({ reason: 'event_invalid', sqs_message_id: 'sqs-bad' });
  });

  it('quarantines the SNS-action event (the mail is not in the bucket) under its SES message id', async () => {
    // Prepare
    const { invoke, processMail, bucket } = setup(async (mail) => traceFor(mail));

    // Act
    const response = await invoke(readEvent<SQSEvent>('sqs/sns-action-via-sns.json'));

    // Assess
    expect(response).toEqual({ batchItemFailures: [] });
    expect(processMail).not.toHaveBeenCalled();
    const [key] = bucket.keys('quarantine/');
    expect(JSON.parse(bucket.text(key ?? '') ?? '{}')).toMatchObject({
      mailId: 'd6iitobk75ur44p8kdnnp7g2n800',
      reason: 'event_invalid',
    });
  });

  it('refuses an event that points at another bucket', async () => {
    // Prepare
    const { invoke, processMail, bucket } = setup(async (mail) => traceFor(mail));
    const record = sqsRecordFor(notificationVariant({ messageId: 'm1', bucket: 'someone-elses-bucket' }), {
      sqsMessageId: 'sqs-m1',
    });

    // Act
    const response = await invoke(sqsEvent(record));

    // Assess
    expect(response).toEqual({ batchItemFailures: [] });
    expect(processMail).not.toHaveBeenCalled();
    const entry = JSON.parse(bucket.text('quarantine/event-sqs-m1.json') ?? '{}');
    expect(entry).toMatchObject({ rawKey: 'mail/m1', reason: 'event_invalid' });
    expect(entry.message).toMatch(/is not the desk bucket my-S3-bucket/);
  });

  it('retries an invalid event when its quarantine entry cannot be written', async () => {
    // Prepare
    const { invoke } = setup(async (mail) => traceFor(mail));
    s3.on(PutObjectCommand).rejects(s3Error('SlowDown', 503));

    // Act
    const response = await invoke(sqsEvent(sqsRecordWithBody('nope', 'sqs-bad')));

    // Assess
    expect(response).toEqual({ batchItemFailures: [{ itemIdentifier: 'sqs-bad' }] });
  });

  it('fails the whole batch when the cold start fails, and builds again on the next invocation', async () => {
    // Prepare
    const { invoke, wiring } = setup(async (mail) => traceFor(mail));
    const realWiring = wiring.getMockImplementation();
    wiring.mockImplementationOnce(async () => {
      throw new PermanentError('environment_invalid', 'POSTDESK_BUCKET: not set');
    });
    const event = sqsEvent(
      sqsRecordFor(notificationVariant({ messageId: 'm1', bucket: BUCKET }), { sqsMessageId: 'a' }),
      sqsRecordFor(notificationVariant({ messageId: 'm2', bucket: BUCKET }), { sqsMessageId: 'b' }),
    );

    // Act
    const first = await invoke(event);
    const second = await invoke(event);

    // Assess
    expect(first).toEqual({ batchItemFailures: [{ itemIdentifier: 'a' }, { itemIdentifier: 'b' }] });
    expect(second).toEqual({ batchItemFailures: [] });
    expect(wiring).toHaveBeenCalledTimes(2);
    expect(realWiring).toBeDefined();
    expect(capture.lines.join('\n')).toMatch(/cold start failed/);
  });

  it('builds the wiring once for many invocations', async () => {
    // Prepare
    const { invoke, wiring } = setup(async (mail) => traceFor(mail));
    const event = readEvent<SQSEvent>('sqs/s3-action-via-sns.json');

    // Act
    await invoke(event);
    await invoke(event);

    // Assess
    expect(wiring).toHaveBeenCalledTimes(1);
  });

  it('correlates the pipeline’s log lines with the SES message id', async () => {
    // Prepare
    const { invoke } = setup(async (mail, deps) => {
      deps.logger.info('inside the pipeline');
      return traceFor(mail);
    });

    // Act
    await invoke(readEvent<SQSEvent>('sqs/s3-action-via-sns.json'));

    // Assess
    const line = capture.json().find((entry) => entry['message'] === 'inside the pipeline');
    expect(line).toMatchObject({
      ses_message_id: 'd6iitobk75ur44p8kdnnp7g2n800',
      sqs_message_id: '059f36b4-87a3-44ab-83d2-661175700091',
      function_name: 'postdesk-inbound',
    });
  });

  it('emits the received and outcome metrics after the batch', async () => {
    // Prepare
    const { invoke } = setup(async (mail) => traceFor(mail));

    // Act
    await invoke(readEvent<SQSEvent>('sqs/s3-action-via-sns.json'));

    // Assess
    const emf = capture.json().find((line) => typeof line['_aws'] === 'object' && 'received' in line);
    expect(emf).toMatchObject({ received: 1, issues_created: 1 });
  });

  it('survives arbitrary record bodies: never throws, never retries what cannot be fixed (fuzz)', async () => {
    // Prepare
    const { invoke, processMail } = setup(async (mail) => traceFor(mail));

    // Act + Assess
    await fc.assert(
      fc.asyncProperty(
        fc.array(fc.oneof(fc.json(), fc.string(), fc.constant('{"Type":"Notification"}')), {
          minLength: 1,
          maxLength: 5,
        }),
        async (bodies) => {
          const records = bodies.map((body, index) => sqsRecordWithBody(body, `fuzz-${index}`));
          const response = await invoke(sqsEvent(...records));
          expect(response.batchItemFailures).toEqual([]);
        },
      ),
      { numRuns: 60 },
    );
    expect(processMail).not.toHaveBeenCalled();
  });

  it('hands back the records it has no time left for, and reports the finished ones done', async () => {
    // Prepare
    const { processMail, wiring } = setup(async (mail) => traceFor(mail));
    let remaining = 40_000;
    const logger = createLambdaLogger();
    const handler = createInboundHandler({
      logger,
      metrics: createDeskMetrics(),
      wiring,
      processMail: async (mail, deps) => {
        remaining -= 20_000;
        return processMail(mail, deps);
      },
      timeoutEarlyInMillis: 0,
    });
    const records = ['m1', 'm2', 'm3'].map((id) =>
      sqsRecordFor(notificationVariant({ messageId: id, bucket: BUCKET }), { sqsMessageId: `sqs-${id}` }),
    );

    // Act
    const response = (await handler(sqsEvent(...records), {
      ...context,
      getRemainingTimeInMillis: () => remaining,
    })) as SQSBatchResponse;

    // Assess: m1 at 40 s, m2 at 20 s, m3 would start with 0 s (under the 15 s reserve)
    expect(response).toEqual({ batchItemFailures: [{ itemIdentifier: 'sqs-m3' }] });
    expect(processMail).toHaveBeenCalledTimes(2);
  });

  it('the ledger lease follows the invocation: remaining time plus the margin', async () => {
    // Prepare
    const { processMail, wiring } = setup(async (mail) => traceFor(mail));
    const leases: (number | undefined)[] = [];
    const handler = createInboundHandler({
      logger: createLambdaLogger(),
      metrics: createDeskMetrics(),
      wiring,
      processMail: async (mail, deps) => {
        leases.push(deps.leaseMs);
        return processMail(mail, deps);
      },
      timeoutEarlyInMillis: 0,
    });
    const record = sqsRecordFor(notificationVariant({ messageId: 'm1', bucket: BUCKET }), {
      sqsMessageId: 'sqs-m1',
    });
    // Act
    await handler(sqsEvent(record), { ...context, getRemainingTimeInMillis: () => 880_000 });
    // Assess
    expect(leases).toEqual([880_000 + LEASE_MARGIN_MS]);
  });

  it('answers an event that is not an SQS batch with an empty response', async () => {
    // Prepare
    const { invoke } = setup(async (mail) => traceFor(mail));

    // Act
    const response = await invoke({} as SQSEvent);

    // Assess
    expect(response).toEqual({ batchItemFailures: [] });
  });
});
