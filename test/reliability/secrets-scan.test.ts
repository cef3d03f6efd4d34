import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { PassThrough, Readable } from 'node:stream';
import { S3Client } from '@aws-sdk/client-s3';
import { GetSecretValueCommand, SecretsManagerClient } from '@aws-sdk/client-secrets-manager';
import type { Context, SQSBatchResponse } from 'aws-lambda';
import { mockClient } from 'aws-sdk-client-mock';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { createLambdaLogger } from '../../adapters/aws/logger.ts';
import { createDeskMetrics } from '../../adapters/aws/metrics.ts';
import { SecretsManagerSecretSource } from '../../adapters/aws/secret-source.ts';
import { createMemoryObjectStore } from '../../adapters/local/memory-object-store.ts';
import type { CommandIo } from '../../cli/io.ts';
import { main } from '../../cli/main.ts';
import { createWebhookHandler } from '../../core/outbound/webhook.ts';
import { processMail } from '../../core/pipeline.ts';
import { systemClock } from '../../core/ports.ts';
import { createReplyToken } from '../../core/threading/reply-token.ts';
import { createInboundHandler } from '../../functions/inbound/handler.ts';
import { createInboundWiring } from '../../functions/inbound/wiring.ts';
import { captureStdout } from '../aws/log-capture.ts';
import { fakeBucket } from '../aws/s3-fakes.ts';
import { notificationVariant, sqsEvent, sqsRecordFor } from '../functions/inbound/events.ts';
import { deskState } from '../support/desk-state.ts';
import type { FakeGitLab } from '../support/fake-gitlab.ts';
import { holdsTestSecret, maskSecrets, scanRecords } from '../support/secret-scan-global.ts';
import { errorText, fileRecorder, recordStream } from '../support/secret-scan-setup.ts';
import {
  findTestSecrets,
  TEST_FORGE_TOKEN,
  TEST_REPLY_KEY,
  TEST_SECRET,
  TEST_SECRET_PREFIX,
  TEST_SECRET_VALUES,
  TEST_SECRET_YAML,
  TEST_WEBHOOK_TOKEN,
  testSecretSource,
} from '../support/test-secret.ts';
import { createDesk } from './desk.ts';
import { gitlabForge, startGitLab } from './faults.ts';
import { BUCKET, KEY_ARN, lambdaContext } from './inbound.ts';
import { createHarness, deskConfig, GAME_ADDRESS, safeJson, simpleMail } from './support.ts';

/**
 * Secrets never leave: no value of the desk secret in a log line, an error (message, stack, cause),
 * a decision trace, a quarantine entry, a state object or a mail we send. Two halves:
 *
 * 1. The suite-wide scan (test/support/secret-scan-setup.ts and secret-scan-global.ts, wired in
 *    vitest.config.ts) records everything every test prints or throws and fails the run on a hit;
 *    the first group below proves the scanner finds what it must.
 * 2. A direct hunt: the pipeline, the inbound handler, the webhook, the notifier and the CLI secret
 *    commands run with the test secret, through the paths most likely to echo it (a forge error that
 *    quotes the token, a rotated token, an invalid secret document, a wrong webhook token), and every
 *    output is searched.
 *
 * Defences guarded: the GitLab client's redaction of tokens it sent (adapters/forges/gitlab/
 * client.ts), the Lambda logger's redactor (adapters/aws/logger.ts), the secret parser's
 * value-free messages (adapters/aws/secret-document.ts), the trace's "never holds a secret" rule
 * (core/trace.ts), and the CLI's "only show prints the secret" (cli/commands/secret.ts).
 */

vi.mock('../../cli/registry.ts', async () => {
  const { secretCommand } = await import('../../cli/commands/secret.ts');
  return { commands: [secretCommand] };
});

/** Every text the test produced, with where it came from, for one search at the end of each test. */
const collected = () => {
  const texts: { where: string; text: string }[] = [];
  return {
    add(where: string, value: unknown) {
      texts.push({ where, text: typeof value === 'string' ? value : safeJson(value) });
    },
    addError(where: string, error: unknown) {
      texts.push({ where, text: errorText(error) });
    },
    /** The places that hold a test secret value (empty when clean). */
    leaks(): string[] {
      return texts
        .filter(({ text }) => holdsTestSecret(text))
        .map(({ where, text }) => `${where}: ${maskSecrets(text).slice(0, 300)}`);
    },
    size: () => texts.length,
  };
};

describe('the suite-wide scanner finds what it must', () => {
  it('finds a value, a value cut short, and the bare prefix; masks them in its report; passes clean lines', () => {
    const dir = mkdtempSync(join(tmpdir(), 'postdesk-scan-test-'));
    try {
      writeFileSync(
        join(dir, 'worker-1-0.log'),
        [
          'stdout\tclean line',
          `stderr\tAuthorization failed for ${TEST_FORGE_TOKEN}`,
          `test-error\texpected 'x' to be '${TEST_REPLY_KEY.slice(0, 24)}…'`,
          'console.log\tanother clean line',
          '',
        ].join('\n'),
      );
      writeFileSync(
        join(dir, 'worker-2-0.log'),
        `spied-stdout\t{"token":"${TEST_WEBHOOK_TOKEN.slice(TEST_SECRET_PREFIX.length)}"}\n`,
      );
      const { lines, files, hits } = scanRecords(dir);
      expect(files).toBe(2);
      expect(lines).toBe(5);
      expect(hits.map((hit) => hit.source).sort()).toEqual(['spied-stdout', 'stderr', 'test-error']);
      for (const hit of hits) expect(holdsTestSecret(hit.line)).toBe(false);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it('records every line a stream writes, and an error with its cause chain', () => {
    const dir = mkdtempSync(join(tmpdir(), 'postdesk-scan-test-'));
    try {
      const file = join(dir, 'worker-3-0.log');
      const stream = new PassThrough() as unknown as NodeJS.WriteStream;
      recordStream(stream, 'stdout', fileRecorder(file));
      stream.write('first line\nsecond line\n');
      stream.write(Buffer.from('third line'));
      const error = new Error('outer', { cause: new Error(`inner ${TEST_FORGE_TOKEN}`) });
      fileRecorder(file)('test-error', errorText(error));
      const recorded = readFileSync(file, 'utf8').trim().split('\n');
      expect(recorded.slice(0, 3)).toEqual([
        'stdout\tfirst line',
        'stdout\tsecond line',
        'stdout\tthird line',
      ]);
      expect(scanRecords(dir).hits.map((hit) => hit.source)).toContain('test-error');
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it('knows every value of the test secret', () => {
    expect(findTestSecrets(`a ${TEST_SECRET.forge_token} b ${TEST_SECRET.reply_key}`)).toHaveLength(4);
    for (const value of TEST_SECRET_VALUES) expect(value.length).toBeGreaterThanOrEqual(16);
  });
});

describe('direct hunt: no test secret value in logs, errors, traces, state or mail', () => {
  let gitlab: FakeGitLab;
  beforeAll(async () => {
    gitlab = await startGitLab();
  });
  afterAll(async () => {
    await gitlab.close();
  });

  it('the pipeline: deliveries, replies, a forge that quotes the token, a revoked token', async () => {
    const out = collected();
    const harness = createHarness({ forge: gitlabForge(gitlab.url) });
    const traces = [];
    traces.push(await harness.ingest(simpleMail({ messageId: 'first@example.com' })));
    const token = createReplyToken(TEST_REPLY_KEY, {
      projectKey: 'game',
      issueIid: traces[0]?.deliveries[0]?.issue?.iid ?? 1,
      participantIndex: 0,
      projectPath: 'acme/game',
      participant: 'alice@example.com',
    });
    traces.push(
      await harness.ingest(simpleMail({ subject: 'Re: x' }), {
        recipients: [`support+${token}@desk.example.com`],
      }),
    );
    traces.push(
      await harness.ingest(simpleMail({ subject: 'Re: x' }), {
        recipients: [`support+${token.slice(0, -1)}${token.endsWith('a') ? 'b' : 'a'}@desk.example.com`],
      }),
    );
    // GitLab answers with an error body that quotes the token back.
    gitlab.failNext(1, {
      status: 422,
      body: JSON.stringify({ message: `token ${TEST_FORGE_TOKEN} is not allowed` }),
    });
    traces.push(await harness.ingest(simpleMail()));
    // The token is revoked: 401, then the re-read secret is the same revoked token.
    gitlab.revokeToken(TEST_FORGE_TOKEN);
    try {
      traces.push(await harness.ingest(simpleMail()));
      // A transient failure as well, with the token in the body.
      gitlab.addToken({ value: TEST_FORGE_TOKEN, userId: 2 });
      gitlab.failNext(3, { status: 503, body: `upstream says ${TEST_FORGE_TOKEN}` });
      await processMail(harness.arrive(simpleMail()), harness.deps).catch((error: unknown) =>
        out.addError('thrown', error),
      );
    } finally {
      gitlab.addToken({ value: TEST_FORGE_TOKEN, userId: 2 });
    }

    expect(traces.map((trace) => trace.outcome)).toEqual([
      'issue',
      'note',
      'quarantined',
      'quarantined',
      'quarantined',
    ]);
    for (const trace of traces) out.add(`trace ${trace.mailId}`, trace);
    for (const line of harness.logger.lines) out.add(`log ${line.message}`, line);
    for await (const entry of deskState(harness.store).quarantine.list())
      out.add(`quarantine ${entry.id}`, entry);
    for (const [key, body] of Object.entries(harness.store.snapshot())) out.add(`state ${key}`, body);
    for (const issue of gitlab.issues('acme/game')) out.add(`issue ${issue.iid}`, issue);
    expect(out.size()).toBeGreaterThan(20);
    expect(out.leaks()).toEqual([]);
  });

  it('the inbound handler: real wiring, Secrets Manager, a rotated token, an invalid secret document', async () => {
    const s3 = mockClient(S3Client);
    const sm = mockClient(SecretsManagerClient);
    const capture = captureStdout();
    const out = collected();
    try {
      const bucket = fakeBucket(s3, BUCKET);
      const documents = [
        // The first read: a document with an unknown key and the values next to it (the parser
        // must name the key and line, never the value).
        `forge_token: ${TEST_FORGE_TOKEN}\nbogus_key: ${TEST_REPLY_KEY}\nreply_key: short\n`,
        TEST_SECRET_YAML,
      ];
      let reads = 0;
      sm.on(GetSecretValueCommand).callsFake(async () => ({ SecretString: documents[Math.min(reads++, 1)] }));
      const logger = createLambdaLogger({ serviceName: 'postdesk-inbound' });
      const metrics = createDeskMetrics({ namespace: 'Postdesk', serviceName: 'postdesk-inbound' });
      const handler = createInboundHandler({
        logger,
        metrics,
        wiring: () =>
          createInboundWiring({
            env: {
              POSTDESK_BUCKET: BUCKET,
              POSTDESK_KMS_KEY_ID: KEY_ARN,
              POSTDESK_SECRET_ID: 'postdesk/desk',
              POSTDESK_CONFIG: `domain: desk.example.com\nforge:\n  kind: gitlab\n  url: ${gitlab.url}\nprojects:\n  - path: acme/game\n    key: game\n`,
            },
            logger,
            metrics,
            clients: { s3: new S3Client({}), secretsManager: new SecretsManagerClient({}) },
            gitlab: { retry: { attempts: 2, sleep: async () => undefined }, timeoutMs: 5_000 },
          }),
        timeoutEarlyInMillis: 0,
      });
      const arrive = (id: string) => {
        bucket.seed(`mail/${id}`, simpleMail());
        return sqsRecordFor(
          notificationVariant({ messageId: id, recipients: [GAME_ADDRESS], bucket: BUCKET }),
          {
            sqsMessageId: `sqs-${id}`,
          },
        );
      };
      const invoke = (id: string) =>
        handler(sqsEvent(arrive(id)), lambdaContext as Context) as Promise<SQSBatchResponse>;

      const first = await invoke('secret-1');
      const second = await invoke('secret-2');
      // A 401 mid-run: the forge re-reads the secret (rotation) and goes on.
      gitlab.failNext(1, {
        status: 401,
        body: JSON.stringify({ message: `401 Unauthorized ${TEST_FORGE_TOKEN}` }),
      });
      const third = await invoke('secret-3');

      expect(first.batchItemFailures).toEqual([]);
      expect(second.batchItemFailures).toEqual([]);
      expect(third.batchItemFailures).toEqual([]);
      for (const line of capture.lines) out.add('stdout', line);
      for (const key of bucket.keys()) out.add(`s3 ${key}`, bucket.text(key) ?? '');
      expect(capture.lines.length).toBeGreaterThan(5);
      expect(out.leaks()).toEqual([]);
    } finally {
      capture.restore();
      s3.restore();
      sm.restore();
    }
  });

  it('the secret source: an invalid document fails with a message that names keys and lines, never values', async () => {
    const sm = mockClient(SecretsManagerClient);
    const out = collected();
    try {
      for (const document of [
        `forge_token: ${TEST_FORGE_TOKEN}\nunknown: ${TEST_REPLY_KEY}\n`,
        `forge_token: [${TEST_FORGE_TOKEN}\n`,
        `reply_key: ${TEST_REPLY_KEY.slice(0, 10)}\n`,
        `forge_token: ${TEST_FORGE_TOKEN}\nforge_token: ${TEST_WEBHOOK_TOKEN}\n`,
        `- ${TEST_FORGE_TOKEN}\n`,
      ]) {
        sm.on(GetSecretValueCommand).resolves({ SecretString: document });
        const source = new SecretsManagerSecretSource({
          client: new SecretsManagerClient({}),
          secretId: 'postdesk/desk',
        });
        await source.get().then(
          () => out.add('unexpected success', document.length),
          (error: unknown) => out.addError('secret source', error),
        );
      }
      expect(out.size()).toBe(5);
      expect(out.leaks()).toEqual([]);
    } finally {
      sm.restore();
    }
  });

  it('the webhook: missing, wrong and right tokens leave no value in logs or answers', async () => {
    const out = collected();
    const lines: unknown[] = [];
    const logger = {
      debug: (...args: unknown[]) => lines.push(args),
      info: (...args: unknown[]) => lines.push(args),
      warn: (...args: unknown[]) => lines.push(args),
      error: (...args: unknown[]) => lines.push(args),
    };
    const handle = createWebhookHandler({
      config: deskConfig(),
      secrets: testSecretSource(),
      state: deskState(createMemoryObjectStore()),
      clock: systemClock,
      logger,
      queue: { enqueue: async () => undefined },
    });
    for (const token of [undefined, 'wrong', TEST_WEBHOOK_TOKEN.slice(0, -1), TEST_WEBHOOK_TOKEN]) {
      const response = await handle({
        method: 'POST',
        path: '/',
        headers: token === undefined ? {} : { 'x-gitlab-token': token },
        body: Buffer.from('{"object_kind":"push"}'),
      });
      out.add(`response ${response.status}`, response);
    }
    for (const line of lines) out.add('log', line);
    expect(lines.length).toBeGreaterThan(0);
    expect(out.leaks()).toEqual([]);
  });

  it('outbound mail: the reply address carries a MAC, never the key; the notifier logs no value', async () => {
    const out = collected();
    const desk = createDesk();
    expect((await desk.harness.ingest(simpleMail())).outcome).toBe('issue');
    await desk.notify({
      v: 1,
      kind: 'new_note',
      project: 'acme/game',
      iid: 1,
      to: 'alice@example.com',
      title: 'x',
      noteId: 9,
      noteText: 'An answer.',
    });
    expect(desk.sent).toHaveLength(2);
    for (const mail of desk.sent) out.add(`mail to ${mail.to.join(',')}`, mail.raw.toString('latin1'));
    for (const line of desk.harness.logger.lines) out.add('log', line);
    expect(out.leaks()).toEqual([]);
  });

  it('the CLI secret commands: only `show` prints the secret, on stdout; errors and other output never do', async () => {
    const out = collected();
    const cwd = mkdtempSync(join(tmpdir(), 'postdesk-secret-scan-cli-'));
    const run = async (argv: string[], stdin?: string) => {
      const stdout: Buffer[] = [];
      const stderr: Buffer[] = [];
      const outStream = new PassThrough();
      const errStream = new PassThrough();
      outStream.on('data', (chunk: Buffer) => stdout.push(chunk));
      errStream.on('data', (chunk: Buffer) => stderr.push(chunk));
      const io: CommandIo = {
        stdout: outStream,
        stderr: errStream,
        stdin: Readable.from(stdin === undefined ? [] : [stdin]),
        env: {},
        cwd,
      };
      const code = await main(['secret', ...argv], io);
      return {
        code,
        stdout: Buffer.concat(stdout).toString('utf8'),
        stderr: Buffer.concat(stderr).toString('utf8'),
      };
    };
    try {
      const written = await run(['write'], TEST_SECRET_YAML);
      expect(written.code).toBe(0);
      out.add('write stdout', written.stdout);
      out.add('write stderr', written.stderr);
      const writtenJson = await run(['write', '--json'], TEST_SECRET_YAML);
      out.add('write --json stdout', writtenJson.stdout);
      for (const bad of [
        `forge_token: ${TEST_FORGE_TOKEN}\nunknown_key: ${TEST_REPLY_KEY}\n`,
        `forge_token: [${TEST_FORGE_TOKEN}\n`,
        `reply_key: ${TEST_REPLY_KEY.slice(0, 10)}\n`,
      ]) {
        const refused = await run(['write'], bad);
        expect(refused.code).toBe(1);
        out.add('refused stdout', refused.stdout);
        out.add('refused stderr', refused.stderr);
      }
      const shown = await run(['show']);
      expect(shown.code).toBe(0);
      // `show` prints the secret on stdout: that is its job, and the only place it may appear.
      expect(shown.stdout).toContain(TEST_FORGE_TOKEN);
      out.add('show stderr', shown.stderr);
      // The encrypted file on disk holds no value either.
      out.add('secret.enc', readFileSync(join(cwd, '.postdesk', 'secret.enc'), 'utf8'));
      expect(out.leaks()).toEqual([]);
    } finally {
      rmSync(cwd, { recursive: true, force: true });
    }
  });
});
