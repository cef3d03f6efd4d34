import { readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import {
  GetQueueAttributesCommand,
  ListMessageMoveTasksCommand,
  SQSClient,
  StartMessageMoveTaskCommand,
} from '@aws-sdk/client-sqs';
import { mockClient } from 'aws-sdk-client-mock';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { createFileRawMailStore } from '../../adapters/local/raw-mail-store.ts';
import { LocalSecretFile } from '../../adapters/local/secret-file.ts';
import { type LocalDeskEvent, startLocalDesk } from '../../cli/commands/serve.ts';
import { rawKeyOf } from '../../cli/local-desk.ts';
import { openLocalQueue } from '../../cli/local-queue.ts';
import { main } from '../../cli/main.ts';
import { parseConfig } from '../../core/config/parse.ts';
import {
  CUSTOMER,
  DESK,
  filesIn,
  localConfigText,
  noDns,
  smtpClient,
  tempWorkspace,
} from '../local/support.ts';
import { bufferIo } from '../support/cli-io.ts';
import { type FakeGitLab, startFakeGitLab } from '../support/fake-gitlab.ts';

const run = async (cwd: string, args: string[]) => {
  const io = bufferIo({ cwd, env: {} });
  const code = await main(['redrive', ...args], io.io);
  return { code, stdout: io.stdout(), stderr: io.stderr() };
};

const mail = (n: number): Buffer =>
  Buffer.from(
    `From: Customer ${n} <c${n}@customer.example>\r\nTo: support+game@${DESK}\r\nSubject: Problem ${n}\r\n` +
      `Message-ID: <p${n}@customer.example>\r\n\r\nProblem number ${n}.\r\n`,
  );

/** Dead letters as the worker leaves them: the raw mail in mail/, the entry with its error in dlq/. */
const seedDeadLetters = async (cwd: string, count: number): Promise<string[]> => {
  const dataDir = join(cwd, '.postdesk');
  const raw = createFileRawMailStore(join(dataDir, 'mail'));
  const queue = openLocalQueue(dataDir);
  const ids: string[] = [];
  for (let n = 1; n <= count; n++) {
    const id = `local-${String(n).padStart(32, '0')}`;
    await raw.put(rawKeyOf(id), mail(n));
    const entry = await queue.put({
      version: 1,
      id,
      rawKey: rawKeyOf(id),
      envelope: {
        recipients: [`support+game@${DESK}`],
        mailFrom: `c${n}@customer.example`,
        remoteIp: '127.0.0.1',
      },
      receivedAt: new Date(Date.UTC(2025, 0, 1, 12, n)).toISOString(),
      attempts: 4,
    });
    await queue.deadLetter(entry, { code: 'forge_unavailable', message: 'GitLab answered 503' }, new Date());
    ids.push(id);
  }
  return ids;
};

const issuesIn = async (cwd: string): Promise<string[]> =>
  (await filesIn(join(cwd, '.postdesk/forge/acme/game/issues'))).filter((name) => name.endsWith('.md'));

describe('postdesk redrive (local)', () => {
  it('moves every dead letter back and processes it, with [i/n] progress', async () => {
    // Prepare
    const cwd = await tempWorkspace('redrive');
    await seedDeadLetters(cwd, 3);
    // Act
    const result = await run(cwd, ['--dns', 'offline']);
    // Assess
    expect(result.code).toBe(0);
    expect(result.stdout).toMatch(/redriving 3 mails from .*dlq/);
    for (const step of ['[1/3]', '[2/3]', '[3/3]']) expect(result.stdout).toContain(step);
    expect(result.stdout).toMatch(/3 redriven: 3 issue/);
    expect(await issuesIn(cwd)).toEqual(['1.md', '2.md', '3.md']);
    expect(await filesIn(join(cwd, '.postdesk/dlq'))).toEqual([]);
    expect(await filesIn(join(cwd, '.postdesk/queue'))).toEqual([]);
  });

  it('redrives only the ids named, and says when there is nothing to do', async () => {
    // Prepare
    const cwd = await tempWorkspace('redrive-ids');
    const [first, second] = await seedDeadLetters(cwd, 2);
    // Act
    const one = await run(cwd, [second ?? '', '--json', '--dns', 'offline']);
    const rest = await run(cwd, ['--dns', 'offline']);
    const none = await run(cwd, []);
    // Assess
    const lines = one.stdout
      .trim()
      .split('\n')
      .map((line) => JSON.parse(line));
    expect(lines[0]).toMatchObject({ progress: { done: 1, total: 1 }, id: second, outcome: 'issue' });
    expect(lines[1]).toEqual({ summary: { mails: 1, redriven: 1, deadAgain: 0, outcomes: { issue: 1 } } });
    expect(rest.stdout).toContain(`[1/1] ${first}`);
    expect(none.stdout).toMatch(/nothing to redrive/);
    expect(await issuesIn(cwd)).toEqual(['1.md', '2.md']);
  });
});

describe('dead letters end to end: the forge down, then back', () => {
  const gitlabs: FakeGitLab[] = [];
  afterEach(async () => {
    await Promise.all(gitlabs.splice(0).map((gitlab) => gitlab.close()));
  });

  it('retries a transient failure with backoff, dead-letters it with its error, and redrive delivers it once', async () => {
    // Prepare: GitLab answers 503 to everything
    const gitlab = await startFakeGitLab();
    gitlabs.push(gitlab);
    gitlab.failNext(1000, { status: 503 });
    const forge = `{ kind: gitlab, url: "${gitlab.url}" }`;
    const cwd = await tempWorkspace('redrive-e2e', localConfigText({ forge }));
    const dataDir = join(cwd, '.postdesk');
    await new LocalSecretFile({ dataDir, env: {} }).writeText(`forge_token: ${gitlab.token}\n`);
    const events: LocalDeskEvent[] = [];
    const desk = await startLocalDesk({
      config: parseConfig(localConfigText({ forge }), 'test.yaml'),
      dataDir,
      env: {},
      port: 0,
      webhookPort: 0,
      resolver: noDns,
      retry: { attempts: 2, baseMs: 10 },
      onEvent: (event) => events.push(event),
    });
    // With an attachment, the first forge call is the upload: it fails before anything is made, so
    // the delivery lease is given back at once (a failed create keeps it, in case GitLab made it).
    await smtpClient(desk.smtpPort).sendMail({
      from: CUSTOMER,
      to: `support+game@${DESK}`,
      subject: 'While GitLab was down',
      text: 'Hello',
      attachments: [{ filename: 'log.txt', content: 'log\n' }],
    });
    await desk.idle();
    await desk.close();
    const dead = await openLocalQueue(dataDir).listDead();
    // Act: GitLab is back (a fresh one at a new address)
    const upAgain = await startFakeGitLab();
    gitlabs.push(upAgain);
    await writeFile(
      join(cwd, 'postdesk.config.yaml'),
      localConfigText({ forge: `{ kind: gitlab, url: "${upAgain.url}" }` }),
    );
    const first = await run(cwd, ['--dns', 'offline']);
    const again = await run(cwd, ['--dns', 'offline']);
    // Assess
    expect(events.map((event) => event.kind)).toEqual(['accepted', 'retry', 'dead_letter']);
    expect(dead.entries).toHaveLength(1);
    expect(dead.entries[0]).toMatchObject({ attempts: 2, lastError: { code: 'forge_unavailable' } });
    expect(await filesIn(join(dataDir, 'queue'))).toEqual([]);
    expect(first.code).toBe(0);
    expect(first.stdout).toMatch(/\[1\/1\] local-[0-9a-f]{32}: issue acme\/game#1/);
    expect(again.stdout).toMatch(/nothing to redrive/);
    expect(upAgain.issues('acme/game').map((issue) => issue.title)).toEqual(['While GitLab was down']);
  });

  it('puts a mail that fails again back in dlq/ with the new error, and exits 1', async () => {
    // Prepare: the forge URL points at nothing
    const gitlab = await startFakeGitLab();
    const url = gitlab.url;
    await gitlab.close();
    const cwd = await tempWorkspace(
      'redrive-again',
      localConfigText({ forge: `{ kind: gitlab, url: "${url}" }` }),
    );
    await new LocalSecretFile({ dataDir: join(cwd, '.postdesk'), env: {} }).writeText(
      'forge_token: glpat-x\n',
    );
    const [id] = await seedDeadLetters(cwd, 1);
    // Act
    const result = await run(cwd, ['--attempts', '1', '--dns', 'offline']);
    // Assess
    expect(result.code).toBe(1);
    expect(result.stdout).toMatch(/\[1\/1\] .*FAILED again \(1 attempts\), back in dlq\//);
    expect(result.stdout).toMatch(/1 redriven: 1 back in dlq\//);
    const dead = JSON.parse(await readFile(join(cwd, '.postdesk/dlq', `${id}.json`), 'utf8'));
    expect(dead).toMatchObject({
      redriven: 1,
      attempts: 1,
      lastError: { code: expect.stringMatching(/^forge_/) },
    });
  });
});

describe('postdesk redrive --aws', () => {
  const sqs = mockClient(SQSClient);
  const dlqUrl = 'https://sqs.eu-west-1.amazonaws.com/123456789012/postdesk-inbound-dlq';
  const queueUrl = 'https://sqs.eu-west-1.amazonaws.com/123456789012/postdesk-inbound';
  const dlqArn = 'arn:aws:sqs:eu-west-1:123456789012:postdesk-inbound-dlq';
  const queueArn = 'arn:aws:sqs:eu-west-1:123456789012:postdesk-inbound';

  const withOutputs = async (): Promise<string> => {
    const cwd = await tempWorkspace('redrive-aws');
    await writeFile(
      join(cwd, 'outputs.json'),
      JSON.stringify({
        'postdesk-stateful': { DeskBucketName: 'postdesk-mail-123456789012-eu-west-1' },
        'postdesk-stateless': { InboundQueueUrl: queueUrl, InboundDeadLetterQueueUrl: dlqUrl },
      }),
    );
    return cwd;
  };

  beforeEach(() => {
    sqs.reset();
    sqs
      .on(GetQueueAttributesCommand, { QueueUrl: dlqUrl })
      .resolves({ Attributes: { QueueArn: dlqArn, ApproximateNumberOfMessages: '17' } });
    sqs
      .on(GetQueueAttributesCommand, { QueueUrl: queueUrl })
      .resolves({ Attributes: { QueueArn: queueArn, ApproximateNumberOfMessages: '0' } });
    sqs.on(StartMessageMoveTaskCommand).resolves({ TaskHandle: 'task-1' });
  });
  afterEach(() => sqs.reset());

  it('starts a message move task from the DLQ to its queue and follows it with --wait', async () => {
    // Prepare
    const cwd = await withOutputs();
    sqs
      .on(ListMessageMoveTasksCommand)
      .resolvesOnce({
        Results: [
          { Status: 'RUNNING', ApproximateNumberOfMessagesMoved: 3, ApproximateNumberOfMessagesToMove: 17 },
        ],
      })
      .resolvesOnce({
        Results: [
          { Status: 'RUNNING', ApproximateNumberOfMessagesMoved: 3, ApproximateNumberOfMessagesToMove: 17 },
        ],
      })
      .resolves({
        Results: [
          {
            Status: 'COMPLETED',
            ApproximateNumberOfMessagesMoved: 17,
            ApproximateNumberOfMessagesToMove: 17,
          },
        ],
      });
    // Act
    const result = await run(cwd, ['--aws', '--stack-outputs', 'outputs.json', '--wait', '--interval', '0']);
    // Assess
    expect(result.code).toBe(0);
    expect(sqs.commandCalls(StartMessageMoveTaskCommand)[0]?.args[0].input).toEqual({
      SourceArn: dlqArn,
      DestinationArn: queueArn,
    });
    expect(sqs.commandCalls(ListMessageMoveTasksCommand)[0]?.args[0].input).toEqual({
      SourceArn: dlqArn,
      MaxResults: 1,
    });
    expect(result.stdout).toContain(`moving about 17 messages from ${dlqArn} back to ${queueArn}`);
    expect(result.stdout.match(/\[3\/17\] RUNNING/g)).toHaveLength(1);
    expect(result.stdout).toContain('[17/17] COMPLETED');
    expect(result.stdout).toContain('done: 17 messages back in');
  });

  it('reports a failed move task and exits 1; JSON lines for a program', async () => {
    // Prepare
    const cwd = await withOutputs();
    sqs.on(ListMessageMoveTasksCommand).resolves({
      Results: [
        {
          Status: 'FAILED',
          ApproximateNumberOfMessagesMoved: 2,
          FailureReason: 'AccessDenied on the KMS key',
        },
      ],
    });
    // Act
    const result = await run(cwd, [
      '--aws',
      '--stack-outputs',
      'outputs.json',
      '--wait',
      '--interval',
      '0',
      '--json',
    ]);
    // Assess
    expect(result.code).toBe(1);
    const lines = result.stdout
      .trim()
      .split('\n')
      .map((line) => JSON.parse(line));
    expect(lines[0]).toMatchObject({ event: 'started', taskHandle: 'task-1', sourceArn: dlqArn });
    expect(lines.at(-1)).toEqual({ event: 'failed', moved: 2, reason: 'AccessDenied on the KMS key' });
  });

  it('moves nothing from an empty DLQ, and says what is missing without names', async () => {
    // Prepare
    const cwd = await withOutputs();
    sqs
      .on(GetQueueAttributesCommand, { QueueUrl: dlqUrl })
      .resolves({ Attributes: { QueueArn: dlqArn, ApproximateNumberOfMessages: '0' } });
    // Act
    const empty = await run(cwd, ['--aws', '--stack-outputs', 'outputs.json']);
    const unnamed = await run(cwd, ['--aws']);
    // Assess
    expect(empty.code).toBe(0);
    expect(empty.stdout).toMatch(/nothing to redrive/);
    expect(sqs.commandCalls(StartMessageMoveTaskCommand)).toHaveLength(0);
    expect(unnamed.code).toBe(1);
    expect(unnamed.stderr).toMatch(
      /inbound dead-letter queue is not known: pass --dlq-url or set POSTDESK_INBOUND_DLQ_URL/,
    );
  });
});
