import { DecryptCommand, KMSClient, KMSServiceException } from '@aws-sdk/client-kms';
import { PutObjectCommand, type PutObjectCommandInput, S3Client } from '@aws-sdk/client-s3';
import {
  GetSecretValueCommand,
  SecretsManagerClient,
  SecretsManagerServiceException,
} from '@aws-sdk/client-secrets-manager';
import type { Context, SQSBatchResponse } from 'aws-lambda';
import { mockClient } from 'aws-sdk-client-mock';
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { createLambdaLogger } from '../../adapters/aws/logger.ts';
import { createDeskMetrics } from '../../adapters/aws/metrics.ts';
import { S3ObjectStore } from '../../adapters/aws/s3-object-store.ts';
import { S3RawMailStore } from '../../adapters/aws/s3-raw-mail-store.ts';
import { createMemoryObjectStore } from '../../adapters/local/memory-object-store.ts';
import { TransientError } from '../../core/errors.ts';
import type { InboundMail } from '../../core/model.ts';
import { type PipelineDeps, processMail } from '../../core/pipeline.ts';
import type { Forge, ObjectStore } from '../../core/ports.ts';
import { objectStoreState } from '../../core/state/index.ts';
import { createInboundHandler } from '../../functions/inbound/handler.ts';
import { createInboundWiring } from '../../functions/inbound/wiring.ts';
import { captureStdout } from '../aws/log-capture.ts';
import { fakeBucket, s3Error } from '../aws/s3-fakes.ts';
import { notificationVariant, sqsEvent, sqsRecordFor } from '../functions/inbound/events.ts';
import { deskState } from '../support/desk-state.ts';
import type { FakeGitLab } from '../support/fake-gitlab.ts';
import { TEST_REPLY_KEY, TEST_SECRET_YAML } from '../support/test-secret.ts';
import {
  allTransient,
  armedForge,
  type ForgeMethod,
  gitlabForge,
  issuesOf,
  killAfterForgeCall,
  killAfterStoreWrite,
  MAX_RECEIVES,
  notesOf,
  refusedUrl,
  runThroughQueue,
  sleep,
  startGitLab,
  startLossyProxy,
  VISIBILITY_MS,
} from './faults.ts';
import { BUCKET, KEY_ARN, lambdaContext } from './inbound.ts';
import {
  createHarness,
  deskConfig,
  expectDecision,
  GAME_ADDRESS,
  type memoryRawStore,
  movableClock,
  passingVerdicts,
  recordingLogger,
} from './support.ts';

/**
 * The fault matrix (docs/RELIABILITY.md has it as a table). Every cell injects one fault where it
 * happens in production, lets the SQS stand-in redeliver (visibility timeout, 5 receives, then the
 * dead-letter queue) and then counts: the mail ends as exactly one issue or note on the fake GitLab,
 * or in the DLQ or quarantine with its trace; never zero, never two. A mail that reached the DLQ is
 * redriven once the fault is gone, and must then make exactly one.
 *
 * Defences guarded: the delivery ledger and its lease (core/state/ledger.ts,
 * core/stages/deliver/claim.ts), the hidden marker and the recovery search
 * (core/stages/deliver/deliver.ts), the adapter's retry policy (adapters/forges/gitlab/
 * client.ts: bounded retries, Retry-After, no blind re-send of a POST that may have arrived), S3's
 * conditional writes (adapters/aws/s3-object-store.ts), the transient/permanent split
 * (core/errors.ts, adapters/aws/errors.ts), and the handler's partial batch failures
 * (functions/inbound/handler.ts).
 */

const ATTACHED = Buffer.from(
  [
    'From: Alice <alice@example.com>',
    `To: ${GAME_ADDRESS}`,
    'Subject: The game crashes on start',
    'Message-ID: <first-mail@example.com>',
    'MIME-Version: 1.0',
    'Content-Type: multipart/mixed; boundary="b1"',
    '',
    '--b1',
    'Content-Type: text/plain; charset=utf-8',
    '',
    'It crashes every time; the log is attached.',
    '--b1',
    'Content-Type: text/plain; name="crash.log"',
    'Content-Disposition: attachment; filename="crash.log"',
    '',
    'panic: nil pointer at main.go:42',
    '--b1--',
    '',
  ].join('\r\n'),
);

const reply = (messageId: string) =>
  Buffer.from(
    [
      'From: Alice <alice@example.com>',
      `To: ${GAME_ADDRESS}`,
      'Subject: Re: The game crashes on start',
      `Message-ID: <${messageId}@example.com>`,
      'In-Reply-To: <first-mail@example.com>',
      'MIME-Version: 1.0',
      'Content-Type: multipart/mixed; boundary="b2"',
      '',
      '--b2',
      'Content-Type: text/plain; charset=utf-8',
      '',
      'Still crashing with the new build. New log attached.',
      '--b2',
      'Content-Type: text/plain; name="crash2.log"',
      'Content-Disposition: attachment; filename="crash2.log"',
      '',
      'panic: nil pointer at main.go:43',
      '--b2--',
      '',
    ].join('\r\n'),
  );

// --- 1. the forge over real HTTP -----------------------------------------------------------------

interface ForgeWorld {
  gitlab: FakeGitLab;
  proxy: Awaited<ReturnType<typeof startLossyProxy>>;
}

interface ForgeCell {
  name: string;
  /** Arms the fault just before the forge call at the cell's position (first receive only). */
  arm(world: ForgeWorld): void;
  /** The forge URL of the first receive (the lossy proxy, or nothing listening). */
  url?(world: ForgeWorld, refused: string): string;
  /** Receives whose forge is down (`url`) before it comes back. @default 1 */
  downReceives?: number;
  timeoutMs?: number;
  /** Real time GitLab needs to finish what it was doing when we gave up. */
  settleMs?: number;
  /** Forge calls the fault is armed at, one run each. @default [1, 2] */
  positions?: number[];
  /** Extra check on the backoff the adapter chose and the errors the queue saw. */
  check?(waits: number[], errors: unknown[], method: ForgeMethod): void;
}

const FORGE_CELLS: ForgeCell[] = [
  { name: '500 once', arm: ({ gitlab }) => gitlab.failNext(1, { status: 500 }) },
  { name: '503 on every attempt', arm: ({ gitlab }) => gitlab.failNext(3, { status: 503 }) },
  { name: '502 from a gateway', arm: ({ gitlab }) => gitlab.failNext(1, { status: 502 }) },
  { name: '504 from a gateway', arm: ({ gitlab }) => gitlab.failNext(1, { status: 504 }) },
  {
    name: '429 with Retry-After 2 s',
    arm: ({ gitlab }) => gitlab.failNext(1, { status: 429, retryAfter: 2 }),
    check: (waits, errors, method) => {
      // Honoured: slept through in-process (a request), or handed to the queue (a spent upload stream).
      if (method === 'uploadFile') expect((errors[0] as TransientError).retryAfterMs).toBe(2_000);
      else expect(waits).toContain(2_000);
    },
  },
  {
    name: '429 with Retry-After 120 s (longer than an invocation should sleep)',
    arm: ({ gitlab }) => gitlab.failNext(1, { status: 429, retryAfter: 120 }),
    check: (waits, errors) => {
      expect(waits).not.toContain(120_000);
      expect(errors[0]).toBeInstanceOf(TransientError);
      expect((errors[0] as TransientError).retryAfterMs).toBe(120_000);
    },
  },
  {
    name: 'slow: the answer comes after the client timeout',
    arm: ({ gitlab }) => gitlab.delay(700, 1),
    timeoutMs: 250,
    settleMs: 800,
  },
  { name: 'connection dropped before GitLab read it', arm: ({ gitlab }) => gitlab.dropNext(1) },
  { name: 'connection dropped on every attempt', arm: ({ gitlab }) => gitlab.dropNext(3) },
  {
    name: 'answer lost after GitLab acted',
    arm: ({ proxy }) => proxy.loseNextAnswers(1),
    url: ({ proxy }) => proxy.url,
  },
  {
    name: 'forge down (connection refused) for one receive',
    arm: () => undefined,
    positions: [1],
    url: (_world, refused) => refused,
  },
  {
    name: 'forge down (connection refused) for every receive: DLQ, then redrive',
    arm: () => undefined,
    positions: [1],
    url: (_world, refused) => refused,
    downReceives: MAX_RECEIVES,
  },
];

describe('fault matrix: the forge (fake GitLab over real HTTP)', () => {
  let world: ForgeWorld;
  let refused: string;
  beforeAll(async () => {
    refused = await refusedUrl();
  });
  beforeEach(async () => {
    const gitlab = await startGitLab();
    world = { gitlab, proxy: await startLossyProxy(gitlab.url) };
  });
  afterEach(async () => {
    await world.proxy.close();
    await world.gitlab.close();
  });

  /** Runs `mail` through the queue with `cell` armed at forge call `position` of the first receive. */
  const runCell = async (
    cell: ForgeCell,
    position: number,
    setup?: (deps: PipelineDeps) => Promise<void>,
  ) => {
    const clock = movableClock();
    const waits: number[] = [];
    const base = createHarness({ clock, forge: gitlabForge(world.gitlab.url, waits) });
    if (setup) await setup(base.deps);
    const healthy = (): Forge => gitlabForge(world.gitlab.url, waits, { timeoutMs: cell.timeoutMs ?? 2_000 });
    let method: ForgeMethod | undefined;
    const deps = (receive: number): PipelineDeps => {
      const down = receive <= (cell.downReceives ?? 1);
      const url = down && cell.url ? cell.url(world, refused) : world.gitlab.url;
      const inner = gitlabForge(url, waits, { timeoutMs: cell.timeoutMs ?? 2_000 });
      if (receive > 1) return { ...base.deps, forge: down && cell.url ? inner : healthy() };
      const armed = armedForge(inner, (n, name) => {
        if (n !== position) return;
        method = name;
        cell.arm(world);
      });
      return { ...base.deps, forge: armed.forge };
    };
    return { base, clock, waits, deps, method: () => method, healthy };
  };

  const between = (cell: ForgeCell) => async () => {
    if (cell.settleMs) await sleep(cell.settleMs);
  };

  const NEW_ISSUE_CALLS = ['uploadFile', 'createIssue'];
  const issueCases = FORGE_CELLS.flatMap((cell) =>
    (cell.positions ?? [1, 2]).map((position) => [cell.name, position, cell] as const),
  );

  it.each(issueCases)('new issue, %s at forge call %i: exactly one issue', async (_name, position, cell) => {
    // Prepare
    const { base, clock, waits, deps, method, healthy } = await runCell(cell, position);
    const mail = base.arrive(ATTACHED, { id: `forge-${position}` });

    // Act
    const run = await runThroughQueue(mail, { clock, deps, between: between(cell) });
    let trace = run.trace;
    if (run.state === 'dlq') {
      // Nothing was made while the forge was down; the DLQ holds the mail until it is redriven.
      expect(issuesOf(world.gitlab, mail.id)).toHaveLength(0);
      trace = await processMail(mail, { ...base.deps, forge: healthy() });
    }
    // Whatever GitLab was still doing when we gave up has finished before we count.
    if (cell.settleMs) await sleep(cell.settleMs);

    // Assess
    expect(allTransient(run)).toBe(true);
    expect(trace?.outcome).toBe('issue');
    expect(issuesOf(world.gitlab, mail.id)).toHaveLength(1);
    expect(world.gitlab.issues('acme/game')).toHaveLength(1);
    if (!cell.positions) expect(method()).toBe(NEW_ISSUE_CALLS[position - 1]);
    cell.check?.(waits, run.errors, method() ?? 'createIssue');
    // The ledger says done, and the ticket record names the customer once.
    const ticket = await deskState(base.store).tickets.get('acme/game', 1);
    expect(ticket?.participants.map((p) => p.address)).toEqual(['alice@example.com']);
    expect(ticket?.inboundMessageIds).toEqual(['first-mail@example.com']);
  });

  const NOTE_CALLS = ['uploadFile', 'addNote'];
  const noteCases = FORGE_CELLS.filter((cell) => !cell.downReceives).flatMap((cell) =>
    (cell.positions ?? [1, 2]).map((position) => [cell.name, position, cell] as const),
  );

  it.each(noteCases)('reply, %s at forge call %i: exactly one note', async (_name, position, cell) => {
    // Prepare: the ticket exists (a first mail delivered cleanly).
    const { base, clock, waits, deps, method } = await runCell(cell, position, async (clean) => {
      const first = await processMail(firstMail(clean), clean);
      expect(first.outcome).toBe('issue');
    });
    const mail = base.arrive(reply(`reply-${position}`), { id: `reply-${position}` });

    // Act
    const run = await runThroughQueue(mail, { clock, deps, between: between(cell) });
    if (cell.settleMs) await sleep(cell.settleMs);

    // Assess
    expect(allTransient(run)).toBe(true);
    expect(run.state).toBe('done');
    expect(run.trace?.outcome).toBe('note');
    expect(notesOf(world.gitlab, mail.id, 1)).toHaveLength(1);
    expect(world.gitlab.notes('acme/game', 1).filter((note) => !note.system)).toHaveLength(1);
    if (!cell.positions) expect(method()).toBe(NOTE_CALLS[position - 1]);
    cell.check?.(waits, run.errors, method() ?? 'addNote');
  });

  it('regression issue-slow-create-duplicate: a createIssue that times out is not sent again in-process', async () => {
    // Before the fix the adapter retried the POST after its timeout while GitLab was still making
    // the first issue: two issues. Now the timeout goes to the queue, and the retry after the lease
    // finds the issue by its marker.
    const { base, clock, deps } = await runCell(FORGE_CELLS[6] as ForgeCell, 2);
    const mail = base.arrive(ATTACHED, { id: 'slow-create' });
    const run = await runThroughQueue(mail, { clock, deps, between: async () => sleep(800) });
    await sleep(800);
    expect(run.receives).toBe(2);
    expect(run.trace?.reason).toBe('recovered_by_marker');
    expect(
      world.gitlab.requests.filter((r) => r.method === 'POST' && r.path.endsWith('/issues')),
    ).toHaveLength(1);
    expect(world.gitlab.issues('acme/game')).toHaveLength(1);
  });

  it('regression issue-lost-answer-duplicate: an answer lost after GitLab acted makes no second issue', async () => {
    const { base, clock, deps } = await runCell(FORGE_CELLS[9] as ForgeCell, 2);
    const mail = base.arrive(ATTACHED, { id: 'lost-answer' });
    const run = await runThroughQueue(mail, { clock, deps });
    expect(world.proxy.lost()).toBe(1);
    expect(run.trace?.reason).toBe('recovered_by_marker');
    expect(world.gitlab.issues('acme/game')).toHaveLength(1);
  });

  it('a retry inside the lease never creates: delivery_in_progress until the lease expires', async () => {
    // Prepare: the first receive's answer is lost after GitLab made the issue.
    const waits: number[] = [];
    const clock = movableClock();
    const base = createHarness({ clock, forge: gitlabForge(world.proxy.url, waits) });
    const mail = base.arrive(ATTACHED, { id: 'inside-lease' });
    const losing = armedForge(gitlabForge(world.proxy.url, waits), (_n, method) => {
      if (method === 'createIssue') world.proxy.loseNextAnswers(1);
    });
    await expect(processMail(mail, { ...base.deps, forge: losing.forge })).rejects.toBeInstanceOf(
      TransientError,
    );

    // Act: SQS redelivers early (a second consumer, a short visibility timeout).
    clock.advance(60_000);
    const early = await processMail(mail, {
      ...base.deps,
      forge: gitlabForge(world.gitlab.url, waits),
    }).catch((error: unknown) => error);
    clock.advance(VISIBILITY_MS);
    const late = await processMail(mail, { ...base.deps, forge: gitlabForge(world.gitlab.url, waits) });

    // Assess
    expect(early).toBeInstanceOf(TransientError);
    expect((early as TransientError).code).toBe('delivery_in_progress');
    expect(late.reason).toBe('recovered_by_marker');
    expect(issuesOf(world.gitlab, mail.id)).toHaveLength(1);
  });

  it('faults on the recovery receive too: still exactly one issue', async () => {
    const waits: number[] = [];
    const clock = movableClock();
    const base = createHarness({ clock, forge: gitlabForge(world.proxy.url, waits) });
    const mail = base.arrive(ATTACHED, { id: 'double-fault' });
    const deps = (receive: number): PipelineDeps => {
      if (receive === 1) {
        const losing = armedForge(gitlabForge(world.proxy.url, waits), (_n, method) => {
          if (method === 'createIssue') world.proxy.loseNextAnswers(1);
        });
        return { ...base.deps, forge: losing.forge };
      }
      // The marker search of the second receive fails on every attempt.
      if (receive === 2) world.gitlab.dropNext(3);
      return { ...base.deps, forge: gitlabForge(world.gitlab.url, waits) };
    };
    const run = await runThroughQueue(mail, { clock, deps });
    expect(run.receives).toBe(3);
    expect(run.trace?.reason).toBe('recovered_by_marker');
    expect(issuesOf(world.gitlab, mail.id)).toHaveLength(1);
  });

  it('a mail to two desks makes exactly one issue in each, whichever call fails', async () => {
    for (const position of [1, 2, 3, 4]) {
      const waits: number[] = [];
      const clock = movableClock();
      const base = createHarness({ clock, forge: gitlabForge(world.proxy.url, waits) });
      const mail = base.arrive(ATTACHED, {
        id: `two-desks-${position}`,
        recipients: [GAME_ADDRESS, 'support+docs@desk.example.com'],
      });
      const deps = (receive: number): PipelineDeps => {
        const armed = armedForge(gitlabForge(world.proxy.url, waits), (n) => {
          if (receive === 1 && n === position) world.proxy.loseNextAnswers(1);
        });
        return { ...base.deps, forge: armed.forge };
      };
      const run = await runThroughQueue(mail, { clock, deps });
      // Call 4 is the second project's createIssue, on a kept-alive connection: the case where a
      // reset looked like a stale socket and the POST was sent again (two issues).
      const where = `answer lost at forge call ${position}`;
      expect(run.trace?.outcome, where).toBe('issue');
      expect(issuesOf(world.gitlab, mail.id, 'acme/game'), where).toHaveLength(1);
      expect(issuesOf(world.gitlab, mail.id, 'acme/docs'), where).toHaveLength(1);
    }
  });
});

/** The first mail of the ticket the reply cases answer, stored in the same raw store as `deps`. */
const firstMail = (deps: PipelineDeps): InboundMail => {
  const raw = deps.rawStore as ReturnType<typeof memoryRawStore>;
  raw.put('mail/first', ATTACHED);
  return {
    id: 'first',
    rawKey: 'mail/first',
    envelope: { recipients: [GAME_ADDRESS], mailFrom: 'alice@example.com' },
    verdicts: passingVerdicts(),
    receivedAt: deps.clock.now(),
  };
};

// --- 2. the function killed between deliver's steps ---------------------------------------------

interface KillCell {
  name: string;
  kill(forge: Forge, store: ObjectStore): { forge: Forge; store: ObjectStore; reached: Promise<void> };
  /** The reason the retry after the lease reports. */
  reason: string;
}

const forgeKill = (method: ForgeMethod) => (forge: Forge, store: ObjectStore) => ({
  ...killAfterForgeCall(forge, method),
  store,
});
const storeKill =
  (when: (op: string, key: string, body: string) => boolean) => (forge: Forge, store: ObjectStore) => ({
    ...killAfterStoreWrite(store, when),
    forge,
  });

const ISSUE_KILLS: KillCell[] = [
  {
    name: 'after the ledger claim, before the uploads',
    kill: storeKill((op, key) => op === 'putIfAbsent' && key.startsWith('ledger/')),
    reason: 'issue_created',
  },
  { name: 'after the upload, before createIssue', kill: forgeKill('uploadFile'), reason: 'issue_created' },
  {
    name: 'after createIssue, before the ticket record',
    kill: forgeKill('createIssue'),
    reason: 'recovered_by_marker',
  },
  {
    name: 'after the ticket record, before the message-id index',
    kill: storeKill((_op, key) => key.startsWith('tickets/')),
    reason: 'recovered_by_marker',
  },
  {
    name: 'after the message-id index, before the ledger completion',
    kill: storeKill((_op, key) => key.startsWith('msgid/')),
    reason: 'recovered_by_marker',
  },
  {
    name: 'after the ledger completion',
    kill: storeKill(
      (op, key, body) => op === 'putIfMatch' && key.startsWith('ledger/') && body.includes('"done"'),
    ),
    reason: 'duplicate_delivery',
  },
];

const NOTE_KILLS: KillCell[] = [
  {
    name: 'after the ledger claim, before the upload',
    kill: storeKill((op, key) => op === 'putIfAbsent' && key.startsWith('ledger/')),
    reason: 'note_added',
  },
  { name: 'after the upload, before addNote', kill: forgeKill('uploadFile'), reason: 'note_added' },
  {
    name: 'after addNote, before the ticket record',
    kill: forgeKill('addNote'),
    reason: 'recovered_by_marker',
  },
  {
    name: 'after the ticket record, before the ledger completion',
    kill: storeKill((_op, key) => key.startsWith('msgid/')),
    reason: 'recovered_by_marker',
  },
  {
    name: 'after the ledger completion',
    kill: storeKill(
      (op, key, body) => op === 'putIfMatch' && key.startsWith('ledger/') && body.includes('"done"'),
    ),
    reason: 'duplicate_delivery',
  },
];

describe('fault matrix: the function killed between deliver steps, retried by a fresh pipeline after the lease', () => {
  let gitlab: FakeGitLab;
  beforeEach(async () => {
    gitlab = await startGitLab();
  });
  afterEach(async () => {
    await gitlab.close();
  });

  it.each(ISSUE_KILLS.map((cell) => [cell.name, cell] as const))(
    'new issue, killed %s',
    async (_name, cell) => {
      // Prepare
      const clock = movableClock();
      const store = createMemoryObjectStore();
      const base = createHarness({ clock, store, forge: gitlabForge(gitlab.url) });
      const mail = base.arrive(ATTACHED, { id: 'killed' });
      const doomed = cell.kill(gitlabForge(gitlab.url), store);

      // Act: the first run dies at the step (its promise is abandoned, as the process would be).
      void processMail(mail, {
        ...base.deps,
        forge: doomed.forge,
        state: objectStoreState(doomed.store, { clock }),
      });
      await doomed.reached;
      // A redelivery inside the lease must wait, not create.
      clock.advance(60_000);
      const early = await processMail(mail, { ...base.deps, forge: gitlabForge(gitlab.url) }).catch(
        (error: unknown) => error,
      );
      // The queue's retry after the visibility timeout, in a fresh function instance.
      clock.advance(VISIBILITY_MS);
      const trace = await processMail(mail, { ...base.deps, forge: gitlabForge(gitlab.url) });

      // Assess
      if (cell.reason !== 'duplicate_delivery') {
        expect(early).toBeInstanceOf(TransientError);
        expect((early as TransientError).code).toBe('delivery_in_progress');
      }
      expectDecision(trace);
      expect(trace.outcome).toBe('issue');
      expect(trace.reason).toBe(cell.reason);
      expect(issuesOf(gitlab, mail.id)).toHaveLength(1);
      expect(gitlab.issues('acme/game')).toHaveLength(1);
      const ticket = await deskState(store).tickets.get('acme/game', 1);
      expect(ticket?.participants.map((p) => p.address)).toEqual(['alice@example.com']);
      expect(ticket?.inboundMessageIds).toEqual(['first-mail@example.com']);
    },
  );

  it.each(NOTE_KILLS.map((cell) => [cell.name, cell] as const))('reply, killed %s', async (_name, cell) => {
    // Prepare: the ticket exists.
    const clock = movableClock();
    const store = createMemoryObjectStore();
    const base = createHarness({ clock, store, forge: gitlabForge(gitlab.url) });
    expect((await processMail(firstMail(base.deps), base.deps)).outcome).toBe('issue');
    const mail = base.arrive(reply('killed-reply'), { id: 'killed-reply' });
    const doomed = cell.kill(gitlabForge(gitlab.url), store);

    // Act
    void processMail(mail, {
      ...base.deps,
      forge: doomed.forge,
      state: objectStoreState(doomed.store, { clock }),
    });
    await doomed.reached;
    clock.advance(VISIBILITY_MS);
    const trace = await processMail(mail, { ...base.deps, forge: gitlabForge(gitlab.url) });

    // Assess
    expect(trace.outcome).toBe('note');
    expect(trace.reason).toBe(cell.reason);
    expect(notesOf(gitlab, mail.id, 1)).toHaveLength(1);
    const ticket = await deskState(store).tickets.get('acme/game', 1);
    expect(ticket?.inboundMessageIds).toEqual(['first-mail@example.com', 'killed-reply@example.com']);
  });
});

// --- 3. S3 faults (aws-sdk-client-mock under the S3 stores) ---------------------------------------

const s3 = mockClient(S3Client);

interface S3FaultKind {
  name: string;
  /** The error for the call, or undefined to let it through. `n` counts every S3 call from 1. */
  fault(
    n: number,
    position: number,
    command: { input: unknown; constructor: { name: string } },
  ): Error | undefined;
}

const isConditionalPut = (command: { input: unknown; constructor: { name: string } }): boolean => {
  if (command.constructor.name !== 'PutObjectCommand') return false;
  const input = command.input as PutObjectCommandInput;
  return input.IfNoneMatch !== undefined || input.IfMatch !== undefined;
};

const S3_FAULTS: S3FaultKind[] = [
  { name: '500 InternalError', fault: (n, at) => (n === at ? s3Error('InternalError', 500) : undefined) },
  { name: '503 SlowDown (throttling)', fault: (n, at) => (n === at ? s3Error('SlowDown', 503) : undefined) },
  {
    name: 'network error (no HTTP status)',
    fault: (n, at) =>
      n === at ? Object.assign(new Error('socket hang up'), { code: 'ECONNRESET' }) : undefined,
  },
];

describe('fault matrix: S3 (the state store and the raw mail store)', () => {
  let gitlab: FakeGitLab;
  beforeAll(async () => {
    gitlab = await startGitLab();
  });
  afterAll(async () => {
    await gitlab.close();
    s3.restore();
  });
  beforeEach(() => s3.reset());

  /** The pipeline on S3 stores whose client fails as `fault` says; `calls()` counts S3 calls. */
  const s3World = (fault: S3FaultKind['fault'], position: number) => {
    const bucket = fakeBucket(s3, BUCKET);
    const real = new S3Client({});
    let conditionalFault:
      | ((n: number, command: { input: unknown; constructor: { name: string } }) => Error | undefined)
      | undefined;
    let calls = 0;
    let conditional = 0;
    const client = {
      send: async (command: { input: unknown; constructor: { name: string } }) => {
        calls += 1;
        if (isConditionalPut(command)) conditional += 1;
        const error =
          fault(calls, position, command) ??
          (isConditionalPut(command) ? conditionalFault?.(conditional, command) : undefined);
        if (error) throw error;
        return real.send(command as Parameters<S3Client['send']>[0]);
      },
    } as unknown as S3Client;
    const clock = movableClock();
    const deps: PipelineDeps = {
      config: deskConfig(),
      rawStore: new S3RawMailStore({ client, bucket: BUCKET }),
      state: objectStoreState(
        new S3ObjectStore({ client, bucket: BUCKET, kmsKeyId: KEY_ARN, conflictDelayMs: 0 }),
        { clock },
      ),
      forge: gitlabForge(gitlab.url),
      secrets: {
        get: async () => ({ reply_key: TEST_REPLY_KEY }),
        refresh: async () => ({ reply_key: TEST_REPLY_KEY }),
      },
      clock,
      logger: recordingLogger(),
    };
    const arrive = (id: string, raw: Buffer): InboundMail => {
      bucket.seed(`mail/${id}`, raw);
      return {
        id,
        rawKey: `mail/${id}`,
        envelope: { recipients: [GAME_ADDRESS], mailFrom: 'alice@example.com' },
        verdicts: passingVerdicts(),
        receivedAt: clock.now(),
      };
    };
    return {
      bucket,
      deps,
      clock,
      arrive,
      calls: () => calls,
      onConditional(next: typeof conditionalFault) {
        conditionalFault = next;
      },
    };
  };

  let cleanCalls = 0;
  /** S3 calls of a clean delivery: the positions every fault below is injected at. */
  const baseline = async (): Promise<number> => {
    if (cleanCalls > 0) return cleanCalls;
    const world = s3World(() => undefined, 0);
    const trace = await processMail(world.arrive('s3-clean', ATTACHED), world.deps);
    expect(trace.outcome).toBe('issue');
    cleanCalls = world.calls();
    return cleanCalls;
  };

  it('a clean run (the baseline every position below is counted against)', async () => {
    const calls = await baseline();
    console.info(JSON.stringify({ name: 's3_calls_per_delivery', value: calls }));
    expect(calls).toBeGreaterThan(8);
  });

  it.each(S3_FAULTS.map((kind) => [kind.name, kind] as const))(
    '%s at every S3 call of a delivery: exactly one issue',
    async (kindName, kind) => {
      const calls = await baseline();
      for (let position = 1; position <= calls; position++) {
        const world = s3World(kind.fault, position);
        const mail = world.arrive(`s3-${kindName.replace(/\W+/g, '-')}-${position}`, ATTACHED);
        const run = await runThroughQueue(mail, { clock: world.clock, deps: () => world.deps });
        const where = `${kindName} at S3 call ${position}`;
        expect(allTransient(run), where).toBe(true);
        expect(run.state, where).toBe('done');
        expect(run.trace?.outcome, where).toBe('issue');
        expect(issuesOf(gitlab, mail.id), where).toHaveLength(1);
        // Raw mail is never deleted, whatever failed.
        expect(world.bucket.keys('mail/'), where).toEqual([`mail/${mail.id}`]);
      }
    },
    // About 70 whole deliveries per fault: a long test, not a timed one (no assertion on time).
    120_000,
  );

  it('409 ConditionalRequestConflict: retried by the store once, and by the queue when it persists', async () => {
    for (const [label, times] of [
      ['once', 1],
      ['four times in a row', 4],
    ] as const) {
      for (let position = 1; position <= 6; position++) {
        const world = s3World(() => undefined, 0);
        world.onConditional((n) =>
          n >= position && n < position + times ? s3Error('ConditionalRequestConflict', 409) : undefined,
        );
        const mail = world.arrive(`s3-409-${times}-${position}`, ATTACHED);
        const run = await runThroughQueue(mail, { clock: world.clock, deps: () => world.deps });
        const where = `409 ${label} at conditional put ${position}`;
        expect(allTransient(run), where).toBe(true);
        expect(run.trace?.outcome, where).toBe('issue');
        expect(issuesOf(gitlab, mail.id), where).toHaveLength(1);
        if (times === 1) expect(run.receives, where).toBe(1);
      }
    }
  });

  it('412 PreconditionFailed: SQS delivering one mail twice at once makes one issue', async () => {
    // Two consumers race on the same mail; S3's If-None-Match on the ledger lets one through.
    const world = s3World(() => undefined, 0);
    const mail = world.arrive('s3-412-race', ATTACHED);
    const results = await Promise.allSettled([processMail(mail, world.deps), processMail(mail, world.deps)]);
    const failed = results.filter((result) => result.status === 'rejected');
    for (const result of failed) {
      expect(result.reason).toBeInstanceOf(TransientError);
      expect((result.reason as TransientError).code).toBe('delivery_in_progress');
    }
    world.clock.advance(VISIBILITY_MS);
    const again = await processMail(mail, world.deps);
    expect(again.outcome).toBe('issue');
    expect(issuesOf(gitlab, mail.id)).toHaveLength(1);
    const preconditions = s3
      .commandCalls(PutObjectCommand)
      .filter(
        (call) => call.args[0].input.Key?.startsWith('ledger/') && call.args[0].input.IfNoneMatch === '*',
      );
    expect(preconditions.length).toBeGreaterThanOrEqual(2);
  });

  it('412 PreconditionFailed: ten replies racing on one ticket record lose no update', async () => {
    const world = s3World(() => undefined, 0);
    const first = await processMail(world.arrive('first', ATTACHED), world.deps);
    const iid = first.deliveries[0]?.issue?.iid ?? 0;
    expect(iid).toBeGreaterThan(0);
    const replies = Array.from({ length: 10 }, (_, index) =>
      world.arrive(`race-${index}`, reply(`race-${index}`)),
    );
    const traces = await Promise.all(replies.map((mail) => processMail(mail, world.deps)));
    expect(traces.map((trace) => trace.outcome)).toEqual(Array(10).fill('note'));
    const ticket = await world.deps.state.tickets.get('acme/game', iid);
    expect(ticket?.inboundMessageIds).toHaveLength(11);
    for (const mail of replies) expect(notesOf(gitlab, mail.id, iid)).toHaveLength(1);
  });
});

// --- 4. KMS and Secrets Manager unavailable at cold start ----------------------------------------

const sm = mockClient(SecretsManagerClient);
const kms = mockClient(KMSClient);

const smError = (name: string, status: number | undefined) =>
  new SecretsManagerServiceException({
    name,
    $fault: status === undefined || status >= 500 ? 'server' : 'client',
    $metadata: status === undefined ? {} : { httpStatusCode: status },
    message: `${name} (fake)`,
  });
const kmsError = (name: string, status: number) =>
  new KMSServiceException({
    name,
    $fault: status >= 500 ? 'server' : 'client',
    $metadata: { httpStatusCode: status },
    message: `${name} (fake)`,
  });

describe('fault matrix: KMS and Secrets Manager unavailable at cold start (the real inbound wiring)', () => {
  let gitlab: FakeGitLab;
  let capture: ReturnType<typeof captureStdout>;
  beforeAll(async () => {
    gitlab = await startGitLab();
  });
  afterAll(async () => {
    await gitlab.close();
    sm.restore();
    kms.restore();
  });
  beforeEach(() => {
    s3.reset();
    sm.reset();
    kms.reset();
    capture = captureStdout();
  });
  afterEach(() => capture.restore());

  const CONFIG = () => `domain: desk.example.com
forge:
  kind: gitlab
  url: ${gitlab.url}
projects:
  - path: acme/game
    key: game
`;

  const deploy = (secret: 'secrets-manager' | 'kms-blob') => {
    const bucket = fakeBucket(s3, BUCKET);
    const env: NodeJS.ProcessEnv = {
      POSTDESK_BUCKET: BUCKET,
      POSTDESK_KMS_KEY_ID: KEY_ARN,
      POSTDESK_CONFIG: CONFIG(),
      ...(secret === 'secrets-manager'
        ? { POSTDESK_SECRET_ID: 'postdesk/desk' }
        : { POSTDESK_SECRET_BLOB: Buffer.from('ciphertext-of-the-desk-secret').toString('base64') }),
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
          clients: {
            s3: new S3Client({}),
            secretsManager: new SecretsManagerClient({}),
            kms: new KMSClient({}),
          },
          gitlab: { retry: { attempts: 2, sleep: async () => undefined }, timeoutMs: 5_000 },
        }),
      timeoutEarlyInMillis: 0,
    });
    const invoke = (records: ReturnType<typeof sqsRecordFor>[]) =>
      handler(sqsEvent(...records), lambdaContext as Context) as Promise<SQSBatchResponse>;
    const arrive = (id: string) => {
      bucket.seed(`mail/${id}`, ATTACHED);
      return sqsRecordFor(
        notificationVariant({ messageId: id, recipients: [GAME_ADDRESS], bucket: BUCKET }),
        {
          sqsMessageId: `sqs-${id}`,
        },
      );
    };
    return { bucket, invoke, arrive };
  };

  const SECRET_OUTAGES = [
    ['Secrets Manager throttling', 'secrets-manager', () => smError('ThrottlingException', 400)],
    ['Secrets Manager internal error', 'secrets-manager', () => smError('InternalServiceError', 500)],
    [
      'Secrets Manager unreachable (no HTTP status)',
      'secrets-manager',
      () => smError('TimeoutError', undefined),
    ],
    ['KMS internal error', 'kms-blob', () => kmsError('KMSInternalException', 500)],
    ['KMS throttling', 'kms-blob', () => kmsError('ThrottlingException', 400)],
    ['KMS key dependency timeout', 'kms-blob', () => kmsError('DependencyTimeoutException', 503)],
  ] as const;

  it.each(SECRET_OUTAGES)(
    '%s: every record fails transiently, nothing is lost, nothing quarantined',
    async (_name, kind, error) => {
      // Prepare
      const world = deploy(kind);
      let outage = true;
      sm.on(GetSecretValueCommand).callsFake(async () => {
        if (outage) throw error();
        return { SecretString: TEST_SECRET_YAML };
      });
      kms.on(DecryptCommand).callsFake(async () => {
        if (outage) throw error();
        return { Plaintext: new Uint8Array(Buffer.from(TEST_SECRET_YAML)) };
      });
      const slug = _name.toLowerCase().replace(/[^a-z0-9]+/g, '-');
      const ids = ['cold-1', 'cold-2', 'cold-3'].map((id) => `${id}-${slug}`);
      const records = ids.map((id) => world.arrive(id));

      // Act: every receive during the outage, then the one after it.
      const during = [];
      for (let receive = 1; receive < MAX_RECEIVES; receive++) during.push(await world.invoke(records));
      outage = false;
      const after = await world.invoke(records);

      // Assess
      for (const response of during) {
        expect(response.batchItemFailures.map((failure) => failure.itemIdentifier)).toEqual(
          ids.map((id) => `sqs-${id}`),
        );
      }
      expect(after).toEqual({ batchItemFailures: [] });
      for (const id of ids) expect(issuesOf(gitlab, id)).toHaveLength(1);
      expect(world.bucket.keys('quarantine/')).toEqual([]);
      expect(world.bucket.keys('mail/')).toHaveLength(3);
    },
  );

  it('an outage longer than the receive count: the records reach the DLQ untouched, and a redrive delivers them once', async () => {
    const world = deploy('secrets-manager');
    let outage = true;
    sm.on(GetSecretValueCommand).callsFake(async () => {
      if (outage) throw smError('InternalServiceError', 500);
      return { SecretString: TEST_SECRET_YAML };
    });
    const records = [world.arrive('dlq-1'), world.arrive('dlq-2')];
    for (let receive = 1; receive <= MAX_RECEIVES; receive++) {
      expect((await world.invoke(records)).batchItemFailures).toHaveLength(2);
    }
    // In the DLQ: no issue, no quarantine entry, no ledger entry holding a lease, raw mail kept.
    expect(issuesOf(gitlab, 'dlq-1')).toHaveLength(0);
    expect(world.bucket.keys('quarantine/')).toEqual([]);
    expect(world.bucket.keys('ledger/')).toEqual([]);
    expect(world.bucket.keys('mail/')).toEqual(['mail/dlq-1', 'mail/dlq-2']);
    // Redrive.
    outage = false;
    expect(await world.invoke(records)).toEqual({ batchItemFailures: [] });
    expect(issuesOf(gitlab, 'dlq-1')).toHaveLength(1);
    expect(issuesOf(gitlab, 'dlq-2')).toHaveLength(1);
  });

  it('a cold start that fails (wiring throws) fails the whole batch, and the next invocation builds again', async () => {
    const bucket = fakeBucket(s3, BUCKET);
    const store = new S3ObjectStore({ client: new S3Client({}), bucket: BUCKET, kmsKeyId: KEY_ARN });
    let builds = 0;
    const logger = createLambdaLogger({ serviceName: 'postdesk-inbound' });
    const handler = createInboundHandler({
      logger,
      metrics: createDeskMetrics({ namespace: 'Postdesk', serviceName: 'postdesk-inbound' }),
      wiring: async () => {
        builds += 1;
        if (builds === 1) throw new TransientError('secret_unavailable', 'KMS is having a bad day');
        const clock = movableClock();
        return {
          bucket: BUCKET,
          deps: {
            config: deskConfig({ forge: { kind: 'gitlab', url: gitlab.url } }),
            rawStore: new S3RawMailStore({ client: new S3Client({}), bucket: BUCKET }),
            state: objectStoreState(store, { clock }),
            forge: gitlabForge(gitlab.url),
            secrets: { get: async () => ({}), refresh: async () => ({}) },
            clock,
            logger,
          },
        };
      },
      timeoutEarlyInMillis: 0,
    });
    bucket.seed('mail/wiring-1', ATTACHED);
    const record = sqsRecordFor(
      notificationVariant({ messageId: 'wiring-1', recipients: [GAME_ADDRESS], bucket: BUCKET }),
      {
        sqsMessageId: 'sqs-wiring-1',
      },
    );
    const first = (await handler(sqsEvent(record), lambdaContext)) as SQSBatchResponse;
    const second = (await handler(sqsEvent(record), lambdaContext)) as SQSBatchResponse;
    expect(first.batchItemFailures).toEqual([{ itemIdentifier: 'sqs-wiring-1' }]);
    expect(second).toEqual({ batchItemFailures: [] });
    expect(builds).toBe(2);
    expect(issuesOf(gitlab, 'wiring-1')).toHaveLength(1);
  });
});

// --- 5. a permanent forge error: quarantine with its trace, never retried forever ---------------

describe('fault matrix: permanent errors end in quarantine with the trace', () => {
  it('a project GitLab does not know (404) is quarantined once, with its trace, and not retried', async () => {
    const gitlab = await startGitLab();
    try {
      const clock = movableClock();
      const base = createHarness({
        clock,
        forge: gitlabForge(gitlab.url),
        config: deskConfig({}, { path: 'acme/gone' }),
      });
      const mail = base.arrive(ATTACHED, { id: 'gone' });
      const run = await runThroughQueue(mail, { clock, deps: () => base.deps });
      expect(run.receives).toBe(1);
      expect(run.trace?.outcome).toBe('quarantined');
      const entry = await deskState(base.store).quarantine.get('gone');
      expect(entry?.trace.stages.map((stage) => stage.stage)).toContain('deliver');
      expect(entry?.rawKey).toBe('mail/gone');
      expect(base.raw.keys()).toEqual(['mail/gone']);
    } finally {
      await gitlab.close();
    }
  });
});
