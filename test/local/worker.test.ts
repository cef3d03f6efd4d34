import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { openLocalQueue, type QueueEntry } from '../../cli/local-queue.ts';
import type { QueuedRun } from '../../cli/local-runtime.ts';
import { createMailWorker, type WorkerEvent } from '../../cli/local-worker.ts';
import { TransientError } from '../../core/errors.ts';
import type { DecisionTrace } from '../../core/trace.ts';
import { filesIn, tempDir } from './support.ts';

/** The queue consumer on its own: fake runs, a real queue folder. */

const trace = (id: string): DecisionTrace => ({
  mailId: id,
  receivedAt: new Date(0).toISOString(),
  mail: {},
  outcome: 'issue',
  reason: 'issue_created',
  message: '',
  routes: [],
  stages: [],
  deliveries: [],
  dryRun: false,
});

const done = (id: string): QueuedRun => ({ trace: trace(id), dns: { lookups: 0, failed: 0, codes: [] } });

const seed = async (dataDir: string, ids: string[]): Promise<QueueEntry[]> => {
  const queue = openLocalQueue(dataDir);
  const entries: QueueEntry[] = [];
  for (const [index, id] of ids.entries()) {
    entries.push(
      await queue.put({
        version: 1,
        id,
        rawKey: `${id}.eml`,
        envelope: { recipients: ['support+game@desk.example.com'] },
        receivedAt: new Date(Date.UTC(2025, 0, 1, 0, index)).toISOString(),
      }),
    );
  }
  return entries;
};

describe('the local queue worker', () => {
  it('runs at most `concurrency` mails at once and removes each entry when its run ends', async () => {
    // Prepare
    const dataDir = await tempDir('worker');
    const entries = await seed(dataDir, ['m1', 'm2', 'm3', 'm4', 'm5']);
    let running = 0;
    let peak = 0;
    const worker = createMailWorker({
      queue: openLocalQueue(dataDir),
      concurrency: 2,
      run: async (entry) => {
        running += 1;
        peak = Math.max(peak, running);
        await new Promise((resolve) => setTimeout(resolve, 10));
        running -= 1;
        return done(entry.id);
      },
    });
    // Act
    for (const entry of entries) worker.push(entry);
    await worker.idle();
    // Assess
    expect(peak).toBe(2);
    expect(await filesIn(join(dataDir, 'queue'))).toEqual([]);
  });

  it('retries a transient failure with growing backoff, honouring Retry-After, then succeeds', async () => {
    // Prepare
    const dataDir = await tempDir('worker-retry');
    const [entry] = await seed(dataDir, ['m1']);
    const events: WorkerEvent[] = [];
    let calls = 0;
    const worker = createMailWorker({
      queue: openLocalQueue(dataDir),
      retry: { attempts: 4, baseMs: 4, capMs: 1000 },
      random: () => 0.999,
      onEvent: (event) => events.push(event),
      run: async (queued) => {
        calls += 1;
        if (calls === 1) throw new TransientError('forge_unavailable', 'GitLab answered 503');
        if (calls === 2) throw new TransientError('forge_rate_limited', 'slow down', { retryAfterMs: 50 });
        return done(queued.id);
      },
    });
    // Act
    if (entry) worker.push(entry);
    await worker.idle();
    // Assess
    const retries = events.filter((event) => event.kind === 'retry');
    expect(retries.map((event) => event.kind === 'retry' && [event.attempt, event.error.code])).toEqual([
      [1, 'forge_unavailable'],
      [2, 'forge_rate_limited'],
    ]);
    expect(retries[0]?.kind === 'retry' && retries[0].delayMs).toBe(4);
    expect(retries[1]?.kind === 'retry' && retries[1].delayMs).toBe(50);
    expect(events.at(-1)?.kind).toBe('done');
    expect(await filesIn(join(dataDir, 'queue'))).toEqual([]);
  });

  it('moves a mail that keeps failing to dlq/ with its last error, after `attempts` runs', async () => {
    // Prepare
    const dataDir = await tempDir('worker-dlq');
    const [entry] = await seed(dataDir, ['m1']);
    const events: WorkerEvent[] = [];
    const worker = createMailWorker({
      queue: openLocalQueue(dataDir),
      retry: { attempts: 3, baseMs: 1 },
      onEvent: (event) => events.push(event),
      run: async () => {
        throw new TransientError('forge_timeout', 'GitLab did not answer');
      },
    });
    // Act
    if (entry) worker.push(entry);
    await worker.idle();
    // Assess
    expect(events.map((event) => event.kind)).toEqual(['retry', 'retry', 'dead_letter']);
    expect(await filesIn(join(dataDir, 'queue'))).toEqual([]);
    const dead = JSON.parse(await readFile(join(dataDir, 'dlq/m1.json'), 'utf8'));
    expect(dead).toMatchObject({
      id: 'm1',
      attempts: 3,
      failedAt: expect.any(String),
      lastError: { code: 'forge_timeout', message: 'GitLab did not answer' },
    });
  });

  it('waits for a held delivery lease without using up an attempt', async () => {
    // Prepare
    const dataDir = await tempDir('worker-lease');
    const [entry] = await seed(dataDir, ['m1']);
    const events: WorkerEvent[] = [];
    let calls = 0;
    const worker = createMailWorker({
      queue: openLocalQueue(dataDir),
      retry: { attempts: 1, baseMs: 1 },
      onEvent: (event) => events.push(event),
      run: async (queued) => {
        calls += 1;
        if (calls <= 2) throw new TransientError('delivery_in_progress', 'lease held', { retryAfterMs: 5 });
        return done(queued.id);
      },
    });
    // Act
    if (entry) worker.push(entry);
    await worker.idle();
    // Assess
    expect(events.map((event) => event.kind)).toEqual(['retry', 'retry', 'done']);
  });

  it('on stop, cancels waiting retries and leaves their entries in queue/ with the attempts so far', async () => {
    // Prepare
    const dataDir = await tempDir('worker-stop');
    const [entry] = await seed(dataDir, ['m1']);
    const worker = createMailWorker({
      queue: openLocalQueue(dataDir),
      retry: { attempts: 5, baseMs: 60_000 },
      run: async () => {
        throw new TransientError('forge_unavailable', 'down');
      },
    });
    if (entry) worker.push(entry);
    await new Promise((resolve) => setTimeout(resolve, 50));
    // Act
    const stillRunning = await worker.stop(1000);
    // Assess
    expect(stillRunning).toBe(0);
    const left = (await openLocalQueue(dataDir).list()).entries;
    expect(left).toMatchObject([{ id: 'm1', attempts: 1, lastError: { code: 'forge_unavailable' } }]);
  });
});
