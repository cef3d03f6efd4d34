import { SendMessageCommand, SQSClient } from '@aws-sdk/client-sqs';
import type { APIGatewayProxyEventV2, APIGatewayProxyStructuredResultV2, Context } from 'aws-lambda';
import { mockClient } from 'aws-sdk-client-mock';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { createLambdaLogger } from '../../adapters/aws/logger.ts';
import type { NotifyJob, NotifyQueue } from '../../core/outbound/jobs.ts';
import { createWebhookHandler, tokensMatch, type WebhookRequest } from '../../core/outbound/webhook.ts';
import { systemClock } from '../../core/ports.ts';
import { createSqsNotifyQueue } from '../../functions/notify/queue.ts';
import { createWebhookFunction } from '../../functions/webhook/handler.ts';
import { captureStdout } from '../aws/log-capture.ts';
import { deskState } from '../support/desk-state.ts';
import {
  deskConfig,
  issueHookFixture,
  memoryStore,
  noteHook,
  PROJECT,
  recordingLogger,
  seedTicket,
  staticSecrets,
  WEBHOOK_TOKEN,
} from './support.ts';

const recordingQueue = () => {
  const jobs: NotifyJob[] = [];
  const queue: NotifyQueue & { jobs: NotifyJob[] } = {
    jobs,
    async enqueue(batch) {
      jobs.push(...batch);
    },
  };
  return queue;
};

const post = (body: unknown, headers: Record<string, string | undefined> = {}): WebhookRequest => ({
  method: 'POST',
  path: '/',
  headers: { 'x-gitlab-event': 'Note Hook', 'x-gitlab-token': WEBHOOK_TOKEN, ...headers },
  body: Buffer.from(typeof body === 'string' ? body : JSON.stringify(body)),
});

const setup = async (options: { participants?: { address: string; name?: string }[] } = {}) => {
  const store = memoryStore();
  await seedTicket(
    store,
    17,
    options.participants ?? [
      { address: 'ada@customer.example', name: 'Ada' },
      { address: 'bob@customer.example' },
    ],
  );
  const queue = recordingQueue();
  const logger = recordingLogger();
  const secrets = staticSecrets();
  const handle = createWebhookHandler({
    config: deskConfig(),
    secrets,
    state: deskState(store),
    clock: systemClock,
    queue,
    logger,
  });
  return { store, queue, logger, secrets, handle };
};

describe('webhook token', () => {
  it('401 and nothing queued for a wrong token', async () => {
    const { handle, queue } = await setup();
    const response = await handle(post(noteHook(), { 'x-gitlab-token': 'wrong' }));
    expect(response.status).toBe(401);
    expect(queue.jobs).toEqual([]);
  });

  it('401 and nothing queued without a token header', async () => {
    const { handle, queue } = await setup();
    const response = await handle(post(noteHook(), { 'x-gitlab-token': undefined }));
    expect(response.status).toBe(401);
    expect(queue.jobs).toEqual([]);
  });

  it('401 with a log line saying what to do when the secret has no webhook_token', async () => {
    // Prepare
    const { store, queue, logger } = await setup();
    const handle = createWebhookHandler({
      config: deskConfig(),
      secrets: staticSecrets({ reply_key: 'k'.repeat(32) }),
      state: deskState(store),
      clock: systemClock,
      queue,
      logger,
    });
    // Act
    const response = await handle(post(noteHook()));
    // Assess
    expect(response.status).toBe(401);
    expect(queue.jobs).toEqual([]);
    const line = logger.lines.find((entry) => entry.level === 'error');
    expect(line?.message).toContain('webhook_token');
    expect(line?.message).toContain('postdesk secret');
  });

  it('re-reads a rotated secret once, then accepts the new token', async () => {
    const { handle, secrets, queue } = await setup();
    secrets.set({ webhook_token: 'rotated-token-0123456789', reply_key: 'k'.repeat(32) });
    const response = await handle(post(noteHook(), { 'x-gitlab-token': 'rotated-token-0123456789' }));
    expect(response.status).toBe(200);
    expect(queue.jobs).toHaveLength(2);
    expect(secrets.refreshes).toBe(1);
    // A flood of wrong tokens does not turn into a flood of secret reads.
    for (let i = 0; i < 5; i++) await handle(post(noteHook(), { 'x-gitlab-token': `wrong-${i}` }));
    expect(secrets.refreshes).toBe(1);
  });

  it('compares in constant time over digests of any length', () => {
    expect(tokensMatch('abc', 'abc')).toBe(true);
    expect(tokensMatch('abc', 'abcd')).toBe(false);
    expect(tokensMatch('', 'abc')).toBe(false);
  });

  it('413 for a body over the cap, after the token check', async () => {
    const { store, queue, logger } = await setup();
    const handle = createWebhookHandler({
      config: deskConfig(),
      secrets: staticSecrets(),
      state: deskState(store),
      clock: systemClock,
      queue,
      logger,
      maxBodyBytes: 1024,
    });
    expect((await handle(post('x'.repeat(2048)))).status).toBe(413);
    expect((await handle(post('x'.repeat(2048), { 'x-gitlab-token': 'wrong' }))).status).toBe(401);
    expect(queue.jobs).toEqual([]);
  });
});

describe('which notes are emailed', () => {
  it('a public note by a team member queues new_note to every participant', async () => {
    // Prepare
    const { handle, queue } = await setup();
    // Act
    const response = await handle(post(noteHook({ note: 'We are on it.', name: 'Grace Agent' })));
    // Assess
    expect(response.status).toBe(200);
    expect(JSON.parse(response.body)).toEqual({ queued: 2 });
    expect(queue.jobs.map((job) => job.to)).toEqual(['ada@customer.example', 'bob@customer.example']);
    expect(queue.jobs[0]).toMatchObject({
      v: 1,
      kind: 'new_note',
      project: PROJECT,
      iid: 17,
      noteId: 1241,
      noteText: 'We are on it.',
      authorName: 'Grace Agent',
      title: 'test',
      projectWebUrl: 'http://example.com/gitlab-org/gitlab-test',
    });
  });

  it.each([
    ['an internal note', { internal: true }, 'internal_note'],
    ['a system note', { system: true }, 'system_note'],
    ["the desk bot's own note", { username: 'postdesk-bot' }, 'bot_note'],
    ['an edited note', { action: 'update' }, 'edited_note'],
    [
      'an internal note without `internal` (confidential_note on a public issue)',
      { eventType: 'confidential_note' },
      'internal_note',
    ],
    [
      'a confidential_note on a confidential issue from a GitLab that does not say `internal`',
      { eventType: 'confidential_note', issueConfidential: true },
      'internal_unknown',
    ],
  ] as const)('%s sends nothing', async (_what, changes, reason) => {
    const { handle, queue } = await setup();
    const response = await handle(post(noteHook(changes)));
    expect(response.status).toBe(200);
    expect(JSON.parse(response.body)).toEqual({ queued: 0, ignored: reason });
    expect(queue.jobs).toEqual([]);
  });

  it('a public note on a confidential issue is emailed (tickets are confidential by default)', async () => {
    const { handle, queue } = await setup();
    const response = await handle(
      post(noteHook({ eventType: 'confidential_note', issueConfidential: true, internal: false })),
    );
    expect(JSON.parse(response.body)).toEqual({ queued: 2 });
    expect(queue.jobs).toHaveLength(2);
  });

  it('the author is not mailed their own note; undeliverable and unsubscribed participants are skipped', async () => {
    // Prepare
    const { handle, queue, store } = await setup({
      participants: [
        { address: 'ada@customer.example' },
        { address: 'bob@customer.example' },
        { address: 'carol@customer.example' },
        { address: 'dan@customer.example' },
      ],
    });
    await deskState(store).tickets.markUndeliverable(
      PROJECT,
      17,
      'carol@customer.example',
      'bounce: Permanent',
    );
    await deskState(store).outbound.unsubscribe(PROJECT, 17, 'dan@customer.example');
    // Act
    await handle(post(noteHook({ email: 'BOB@customer.example' })));
    // Assess
    expect(queue.jobs.map((job) => job.to)).toEqual(['ada@customer.example']);
  });

  it('a note on an issue that is no ticket, or in another project, sends nothing', async () => {
    const { handle, queue } = await setup();
    expect(JSON.parse((await handle(post(noteHook({ iid: 99 })))).body)).toEqual({
      queued: 0,
      ignored: 'not_a_ticket',
    });
    const foreign = noteHook();
    (foreign['project'] as Record<string, unknown>)['path_with_namespace'] = 'other/project';
    expect(JSON.parse((await handle(post(foreign))).body)).toEqual({ queued: 0, ignored: 'unknown_project' });
    expect(queue.jobs).toEqual([]);
  });

  it('an Issue Hook sends nothing (GitLab sends no status mail)', async () => {
    const { handle, queue } = await setup();
    const response = await handle(post(issueHookFixture(), { 'x-gitlab-event': 'Issue Hook' }));
    expect(response.status).toBe(200);
    expect(JSON.parse(response.body)).toEqual({ queued: 0, ignored: 'issue_event' });
    expect(queue.jobs).toEqual([]);
  });

  it('400 for a body that is not JSON or not a note hook', async () => {
    const { handle, queue } = await setup();
    expect((await handle(post('{not json'))).status).toBe(400);
    const broken = noteHook();
    delete (broken['object_attributes'] as Record<string, unknown>)['note'];
    const response = await handle(post(broken));
    expect(response.status).toBe(400);
    expect(response.body).toContain('object_attributes.note');
    expect(queue.jobs).toEqual([]);
  });

  it('405 for GET on the webhook path', async () => {
    const { handle } = await setup();
    expect((await handle({ ...post(''), method: 'GET' })).status).toBe(405);
  });

  it('503 when the queue is down, so GitLab retries', async () => {
    const { store, logger } = await setup();
    const handle = createWebhookHandler({
      config: deskConfig(),
      secrets: staticSecrets(),
      state: deskState(store),
      clock: systemClock,
      logger,
      queue: {
        enqueue: async () => {
          throw new Error('SQS unreachable');
        },
      },
    });
    expect((await handle(post(noteHook()))).status).toBe(503);
  });
});

describe('webhook function (Function URL, SQS)', () => {
  const sqs = mockClient(SQSClient);
  let capture: ReturnType<typeof captureStdout>;
  const QUEUE_URL = 'https://sqs.eu-west-1.amazonaws.com/123456789012/postdesk-outbound';
  const context = {
    functionName: 'postdesk-webhook',
    awsRequestId: 'webhook-request',
    invokedFunctionArn: 'arn:aws:lambda:eu-west-1:123456789012:function:postdesk-webhook',
    memoryLimitInMB: '256',
    getRemainingTimeInMillis: () => 10_000,
  } as Context;

  beforeEach(() => {
    sqs.reset();
    sqs.on(SendMessageCommand).resolves({ MessageId: 'sqs-1' });
    capture = captureStdout();
  });
  afterEach(() => capture.restore());

  const functionUrlEvent = (
    body: string,
    headers: Record<string, string>,
    options: { base64?: boolean } = {},
  ): APIGatewayProxyEventV2 =>
    ({
      version: '2.0',
      routeKey: '$default',
      rawPath: '/',
      rawQueryString: '',
      headers: { 'content-type': 'application/json', ...headers },
      requestContext: {
        accountId: 'anonymous',
        apiId: 'url-id',
        domainName: 'url-id.lambda-url.eu-west-1.on.aws',
        domainPrefix: 'url-id',
        http: {
          method: 'POST',
          path: '/',
          protocol: 'HTTP/1.1',
          sourceIp: '203.0.113.9',
          userAgent: 'GitLab/17.9',
        },
        requestId: 'req-1',
        routeKey: '$default',
        stage: '$default',
        time: '02/Mar/2026:10:00:00 +0000',
        timeEpoch: 1772445600000,
      },
      body: options.base64 ? Buffer.from(body).toString('base64') : body,
      isBase64Encoded: options.base64 === true,
    }) as APIGatewayProxyEventV2;

  const lambda = async () => {
    const store = memoryStore();
    await seedTicket(store, 17, [{ address: 'ada@customer.example' }]);
    const logger = createLambdaLogger({ serviceName: 'postdesk-webhook' });
    const deps = {
      config: deskConfig(),
      secrets: staticSecrets(),
      state: deskState(store),
      queue: createSqsNotifyQueue({
        client: new SQSClient({ region: 'eu-west-1' }),
        queueUrl: QUEUE_URL,
        store,
      }),
      logger,
      clock: systemClock,
    };
    const handler = createWebhookFunction({
      logger,
      wiring: async () => ({ deps, handle: createWebhookHandler(deps) }),
      timeoutEarlyInMillis: 0,
    });
    return (event: APIGatewayProxyEventV2) =>
      handler(event, context) as Promise<APIGatewayProxyStructuredResultV2>;
  };

  it('a public note is queued on SQS with SendMessage, 200 {queued: 1}', async () => {
    // Prepare
    const invoke = await lambda();
    // Act
    const result = await invoke(
      functionUrlEvent(JSON.stringify(noteHook({ note: 'Fixed in 2.1' })), {
        'x-gitlab-event': 'Note Hook',
        'x-gitlab-token': WEBHOOK_TOKEN,
      }),
    );
    // Assess
    expect(result.statusCode).toBe(200);
    expect(JSON.parse(String(result.body))).toEqual({ queued: 1 });
    const calls = sqs.commandCalls(SendMessageCommand);
    expect(calls).toHaveLength(1);
    const sent = calls[0]?.args[0].input;
    expect(sent?.QueueUrl).toBe(QUEUE_URL);
    expect(JSON.parse(sent?.MessageBody ?? '{}')).toMatchObject({
      kind: 'new_note',
      project: PROJECT,
      iid: 17,
      noteId: 1241,
      to: 'ada@customer.example',
      noteText: 'Fixed in 2.1',
    });
  });

  it('a base64 body is decoded', async () => {
    const invoke = await lambda();
    const result = await invoke(
      functionUrlEvent(
        JSON.stringify(noteHook()),
        { 'x-gitlab-event': 'Note Hook', 'x-gitlab-token': WEBHOOK_TOKEN },
        { base64: true },
      ),
    );
    expect(result.statusCode).toBe(200);
    expect(sqs.commandCalls(SendMessageCommand)).toHaveLength(1);
  });

  it('a wrong token is 401 and nothing reaches SQS', async () => {
    const invoke = await lambda();
    const result = await invoke(
      functionUrlEvent(JSON.stringify(noteHook()), {
        'x-gitlab-event': 'Note Hook',
        'x-gitlab-token': 'nope',
      }),
    );
    expect(result.statusCode).toBe(401);
    expect(sqs.commandCalls(SendMessageCommand)).toHaveLength(0);
  });

  it('an internal note is 200 and nothing reaches SQS', async () => {
    const invoke = await lambda();
    const result = await invoke(
      functionUrlEvent(JSON.stringify(noteHook({ internal: true })), {
        'x-gitlab-event': 'Note Hook',
        'x-gitlab-token': WEBHOOK_TOKEN,
      }),
    );
    expect(result.statusCode).toBe(200);
    expect(sqs.commandCalls(SendMessageCommand)).toHaveLength(0);
  });

  it('a note too long for one SQS message is stored and the message points at it', async () => {
    const invoke = await lambda();
    await invoke(
      functionUrlEvent(JSON.stringify(noteHook({ note: 'x'.repeat(300_000) })), {
        'x-gitlab-event': 'Note Hook',
        'x-gitlab-token': WEBHOOK_TOKEN,
      }),
    );
    const body = JSON.parse(sqs.commandCalls(SendMessageCommand)[0]?.args[0].input.MessageBody ?? '{}');
    expect(body).toMatchObject({ kind: 'stored' });
    expect(String(body.key)).toMatch(/^outbox\/jobs\/[0-9a-f-]{36}\.json$/);
  });
});
