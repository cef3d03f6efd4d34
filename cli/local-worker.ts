import { backoffDelay } from '../core/backoff.ts';
import { errorMessage, isTransient, PostdeskError } from '../core/errors.ts';
import { type Clock, systemClock } from '../core/ports.ts';
import { DeliverReason } from '../core/stages/deliver/reasons.ts';
import type { LocalQueue, QueueEntry } from './local-queue.ts';
import type { QueuedRun } from './local-runtime.ts';

/**
 * The local desk's queue consumer, the stand-in for the inbound function behind SQS: runs queued
 * mail at most `concurrency` at a time (to spare the forge), removes an entry once its run gave a
 * decision, retries a failed run with exponential backoff and full jitter (honouring a forge's
 * `Retry-After`), and after `attempts` failures moves the entry to `dlq/` with its error, as SQS
 * moves a message to the dead-letter queue after maxReceiveCount receives.
 *
 * An entry leaves `queue/` only after its run ended: a crash (or Ctrl+C) at any point leaves it
 * there for the next start, and the delivery ledger makes a second run of a delivered mail a no-op.
 *
 * `delivery_in_progress` (another run, or an attempt whose forge call may have gone through, holds
 * the delivery's ledger lease) is a wait, not a failure: the mail is retried when the lease ends,
 * without using up an attempt, so a mail is never dead-lettered for waiting its turn.
 */

export interface RetryPolicy {
  /** Runs per mail, the first included, before it goes to `dlq/`. @default 4 */
  attempts: number;
  /** First backoff step, ms; step n waits a random time in [step/2, step), step = base * 2^(n-1). @default 1000 */
  baseMs: number;
  /** Largest backoff step, ms. @default 30000 */
  capMs: number;
  /** Longest `Retry-After` (or ledger lease) waited for before the next run. @default 600000 */
  maxRetryAfterMs: number;
}

export const DEFAULT_RETRY: RetryPolicy = {
  attempts: 4,
  baseMs: 1_000,
  capMs: 30_000,
  maxRetryAfterMs: 600_000,
};

/** @default 2: two mails at once, as the inbound function's bounded concurrency. */
export const DEFAULT_CONCURRENCY = 2;

export interface RunFailure {
  code: string;
  message: string;
  /** The decision trace's stages the failed run reached, kept with a retried or dead-lettered mail. */
  stages?: unknown[] | undefined;
}

/** Stages a failed run reached, by its error (a WeakMap: the error itself is left as it was thrown). */
const stagesByFailure = new WeakMap<object, unknown[]>();

/** Attaches the stages a run reached to the error it failed with, so its dead letter keeps them. */
export const withStages = <E>(error: E, stages: unknown[]): E => {
  if (typeof error === 'object' && error !== null && stages.length > 0) stagesByFailure.set(error, stages);
  return error;
};

export type WorkerEvent =
  | { kind: 'done'; entry: QueueEntry; run: QueuedRun }
  | {
      kind: 'retry';
      entry: QueueEntry;
      error: RunFailure;
      attempt: number;
      attempts: number;
      delayMs: number;
    }
  | { kind: 'dead_letter'; entry: QueueEntry; error: RunFailure; attempts: number }
  /** The queue folder itself failed (disk full...): the entry stays where it was. */
  | { kind: 'store_error'; entry: QueueEntry; error: RunFailure };

export interface MailWorkerOptions {
  queue: LocalQueue;
  run: (entry: QueueEntry) => Promise<QueuedRun>;
  /** @default DEFAULT_CONCURRENCY */
  concurrency?: number | undefined;
  retry?: Partial<RetryPolicy> | undefined;
  onEvent?: ((event: WorkerEvent) => void) | undefined;
  /** Accept work but start none (tests; mail stays in `queue/`). @default false */
  paused?: boolean | undefined;
  clock?: Clock | undefined;
  /** Jitter source in [0, 1). @default Math.random */
  random?: (() => number) | undefined;
}

export interface MailWorker {
  /** Adds an entry that is already in `queue/`. An entry already waiting or running is ignored. */
  push(entry: QueueEntry): void;
  /** Resolves when nothing waits, runs, or waits for a retry (or once the worker is stopped). */
  idle(): Promise<void>;
  /**
   * Starts nothing more, cancels waiting retries (their entries stay in `queue/`), and waits up to
   * `timeoutMs` for the runs under way. Resolves with how many were still running at the deadline.
   */
  stop(timeoutMs?: number): Promise<number>;
  readonly waiting: number;
  readonly running: number;
}

const failureOf = (error: unknown): RunFailure => {
  const stages = typeof error === 'object' && error !== null ? stagesByFailure.get(error) : undefined;
  return {
    code: error instanceof PostdeskError ? error.code : ((error as NodeJS.ErrnoException)?.code ?? 'error'),
    message: errorMessage(error),
    ...(stages === undefined ? {} : { stages }),
  };
};

export const createMailWorker = (options: MailWorkerOptions): MailWorker => {
  const policy: RetryPolicy = { ...DEFAULT_RETRY, ...options.retry };
  const concurrency = Math.max(1, options.concurrency ?? DEFAULT_CONCURRENCY);
  const clock = options.clock ?? systemClock;
  const random = options.random ?? Math.random;
  const emit = (event: WorkerEvent): void => options.onEvent?.(event);

  const waiting: QueueEntry[] = [];
  const known = new Set<string>();
  const retryTimers = new Map<string, NodeJS.Timeout>();
  const runs = new Set<Promise<void>>();
  let idleWaiters: Array<() => void> = [];
  let stopped = false;

  const settleIdle = (): void => {
    if (stopped || (waiting.length === 0 && runs.size === 0 && retryTimers.size === 0)) {
      const waiters = idleWaiters;
      idleWaiters = [];
      for (const resolve of waiters) resolve();
    }
  };

  const delayFor = (attempt: number, error: unknown): number =>
    backoffDelay(
      { ...policy, jitter: 'equal', random },
      attempt,
      isTransient(error) ? error.retryAfterMs : undefined,
    );

  const attempt = async function runQueuedEntry(entry: QueueEntry): Promise<void> {
    const number = entry.attempts + 1;
    let run: QueuedRun;
    try {
      run = await options.run(entry);
    } catch (error) {
      const failure = failureOf(error);
      const now = clock.now();
      const leaseHeld = isTransient(error) && error.code === DeliverReason.deliveryInProgress;
      const used = leaseHeld ? entry.attempts : number;
      const failed: QueueEntry = {
        ...entry,
        attempts: used,
        lastError: { ...failure, at: now.toISOString() },
      };
      try {
        if (!leaseHeld && number >= policy.attempts) {
          await options.queue.deadLetter(failed, failure, now);
          known.delete(entry.id);
          emit({ kind: 'dead_letter', entry: failed, error: failure, attempts: number });
          return;
        }
        // The count is on disk before the wait: a restart does not start the mail's retries over.
        await options.queue.put(failed);
      } catch (storeError) {
        known.delete(entry.id);
        emit({ kind: 'store_error', entry, error: failureOf(storeError) });
        return;
      }
      if (stopped) {
        known.delete(entry.id);
        return;
      }
      const delayMs = delayFor(Math.max(1, used), error);
      emit({
        kind: 'retry',
        entry: failed,
        error: failure,
        attempt: number,
        attempts: policy.attempts,
        delayMs,
      });
      retryTimers.set(
        entry.id,
        setTimeout(() => {
          retryTimers.delete(entry.id);
          if (stopped) return;
          waiting.push(failed);
          pump();
        }, delayMs),
      );
      return;
    }
    try {
      await options.queue.remove(entry.id);
    } catch (storeError) {
      // The next start runs it again; the ledger makes that run a no-op.
      emit({ kind: 'store_error', entry, error: failureOf(storeError) });
    }
    known.delete(entry.id);
    emit({ kind: 'done', entry, run });
  };

  const pump = (): void => {
    while (!stopped && !options.paused && runs.size < concurrency) {
      const entry = waiting.shift();
      if (!entry) break;
      const running: Promise<void> = attempt(entry).finally(() => {
        runs.delete(running);
        pump();
      });
      runs.add(running);
    }
    settleIdle();
  };

  return {
    push(entry) {
      if (stopped || known.has(entry.id)) return;
      known.add(entry.id);
      waiting.push(entry);
      pump();
    },

    idle() {
      return new Promise<void>((resolve) => {
        idleWaiters.push(resolve);
        settleIdle();
      });
    },

    async stop(timeoutMs = 30_000) {
      stopped = true;
      waiting.length = 0;
      for (const timer of retryTimers.values()) clearTimeout(timer);
      retryTimers.clear();
      settleIdle();
      if (runs.size === 0) return 0;
      let timer: NodeJS.Timeout | undefined;
      const deadline = new Promise<'timeout'>((resolve) => {
        timer = setTimeout(() => resolve('timeout'), timeoutMs);
      });
      await Promise.race([Promise.allSettled([...runs]), deadline]);
      clearTimeout(timer);
      return runs.size;
    },

    get waiting() {
      return waiting.length + retryTimers.size;
    },

    get running() {
      return runs.size;
    },
  };
};
