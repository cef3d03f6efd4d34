import * as z from 'zod';
import { PermanentError } from '../errors.ts';
import type { Clock, ObjectStore } from '../ports.ts';
import { readJson, sha256Hex, updateJson } from './json.ts';

/**
 * Sliding-window rate limits on the ObjectStore (reference helpdesk-peers.md §11.6: Zammad's
 * per-ticket {10 s: 10, 60 s: 25, 600 s: 100}, FreeScout's thank-you cap), without DynamoDB or Redis.
 *
 * Each window of W seconds is cut into `subBuckets` fixed buckets of ceil(W / subBuckets) seconds,
 * one counter object each at `ratelimit/<scope>/<hashed key>/<W>s-<bucket number>.json`, incremented
 * by compare-and-swap. A hit's count is every bucket the window touches, the one its start cuts
 * through included in full. That over-counts by at most one bucket (the window reaches back up to
 * W + W / subBuckets), and never under-counts: no span of W seconds ever holds more than the
 * maximum. Weighting the cut bucket by the part of it inside the window (the usual "sliding
 * estimate") assumes its hits are spread evenly; a burst at its end was then counted at a fraction
 * and the window let up to twice the maximum through (regression test:
 * test/reliability/loops.test.ts, "issue-rate-limit-sliding-undercount").
 *
 * The check and the increment are two steps, so N hits racing at the limit may all pass: the limit
 * is exceeded by at most the number of concurrent writers, which the inbound function bounds. A
 * denied hit is not counted. The key is hashed (no address in an object key); old buckets are never
 * read again and should expire with a lifecycle rule on `ratelimit/` (one is deleted, best effort,
 * whenever a new bucket starts).
 */

export interface RateLimitVerdict {
  allowed: boolean;
  /** The first window that is full, e.g. `25/60s` (25 hits per 60 seconds). */
  exceeded?: string | undefined;
}

export interface RateLimiter {
  /**
   * Counts one hit for `key` in `scope` unless any window is full. `windows` maps a window length in
   * seconds (as the config writes it, `'60'`) to the most hits allowed in it; 0 allows none.
   */
  hit(scope: string, key: string, windows: Readonly<Record<string, number>>): Promise<RateLimitVerdict>;
  /** The verdict `hit` would give now, counting nothing and writing nothing (`postdesk explain`). */
  peek(scope: string, key: string, windows: Readonly<Record<string, number>>): Promise<RateLimitVerdict>;
  /**
   * `hit`, counted once per `once` (a mail id): the verdict is remembered, so a retry of the same
   * mail neither counts twice nor changes its answer; of two concurrent retries the first answer
   * stands.
   */
  hitOnce(
    scope: string,
    key: string,
    windows: Readonly<Record<string, number>>,
    once: string,
  ): Promise<RateLimitVerdict>;
  /** The verdict `hitOnce` gave for `once` already, else what `peek` says; writes nothing. */
  peekOnce(
    scope: string,
    key: string,
    windows: Readonly<Record<string, number>>,
    once: string,
  ): Promise<RateLimitVerdict>;
}

/** Where a `hitOnce` verdict is remembered, under the rate-limit prefix so it expires with it. */
export const DECISION_PREFIX = 'ratelimit/inbound-decisions';

export interface RateLimiterOptions {
  /** The desk's clock: the windows run on it. */
  clock: Clock;
  /**
   * Buckets per window: more is smoother and costs more reads.
   * @default 10
   */
  subBuckets?: number;
}

const CounterSchema = z.object({ count: z.number().int().nonnegative() });
const DecisionSchema = z.object({ allowed: z.boolean(), exceeded: z.string().optional() });

const SCOPE = /^[a-z0-9_-]{1,64}$/;

interface Window {
  seconds: number;
  max: number;
  /** Bucket width, seconds. */
  width: number;
}

const parseWindows = (windows: Readonly<Record<string, number>>, subBuckets: number): Window[] =>
  Object.entries(windows)
    .map(([text, max]) => {
      const seconds = Number(text);
      if (!Number.isInteger(seconds) || seconds <= 0 || !Number.isInteger(max) || max < 0) {
        throw new PermanentError(
          'rate_limit_window_invalid',
          `rate-limit window ${JSON.stringify(text)}: ${max} is not "<seconds>: <count>" with positive whole seconds and a whole count`,
        );
      }
      return { seconds, max, width: Math.max(1, Math.ceil(seconds / subBuckets)) };
    })
    .sort((a, b) => a.seconds - b.seconds);

export const createRateLimiter = (store: ObjectStore, options: RateLimiterOptions): RateLimiter => {
  const { clock } = options;
  const subBuckets = options.subBuckets ?? 10;

  const bucketKey = (base: string, window: Window, bucket: number): string =>
    `${base}/${window.seconds}s-${bucket}.json`;

  const countOf = async (key: string): Promise<number> =>
    (await readJson(store, key, CounterSchema))?.value.count ?? 0;

  /** Hits in the `window.seconds` before `nowMs`, never fewer than there were (see the module comment). */
  const estimate = async (base: string, window: Window, nowMs: number): Promise<number> => {
    const widthMs = window.width * 1000;
    const startMs = nowMs - window.seconds * 1000;
    const buckets: number[] = [];
    for (let bucket = Math.floor(startMs / widthMs); bucket <= Math.floor(nowMs / widthMs); bucket++) {
      // Every bucket that ends after the window starts may hold a hit inside it: counted in full.
      if ((bucket + 1) * widthMs > startMs) buckets.push(bucket);
    }
    const counts = await Promise.all(buckets.map((bucket) => countOf(bucketKey(base, window, bucket))));
    return counts.reduce((sum, count) => sum + count, 0);
  };

  const increment = async (base: string, window: Window, nowMs: number): Promise<void> => {
    const bucket = Math.floor(nowMs / (window.width * 1000));
    let created = false;
    await updateJson(
      store,
      bucketKey(base, window, bucket),
      CounterSchema,
      (current) => {
        created = current === undefined;
        return { count: (current?.count ?? 0) + 1 };
      },
      { attempts: 12, conflictCode: 'rate_limit_conflict' },
    );
    // The bucket just before the oldest one a window can read is never needed again.
    if (created) await store.delete(bucketKey(base, window, bucket - subBuckets - 2)).catch(() => undefined);
  };

  /** The first full window for one more hit, with what `hit` needs to count it. */
  const check = async (scope: string, key: string, windows: Readonly<Record<string, number>>) => {
    if (!SCOPE.test(scope)) {
      throw new PermanentError(
        'rate_limit_scope_invalid',
        `rate-limit scope ${JSON.stringify(scope)} must match [a-z0-9_-]+`,
      );
    }
    const parsed = parseWindows(windows, subBuckets);
    const base = `ratelimit/${scope}/${sha256Hex(key, 32)}`;
    const nowMs = clock.now().getTime();
    const estimates = await Promise.all(parsed.map((window) => estimate(base, window, nowMs)));
    const full = parsed.find((window, index) => (estimates[index] ?? 0) + 1 > window.max);
    const verdict: RateLimitVerdict = full
      ? { allowed: false, exceeded: `${full.max}/${full.seconds}s` }
      : { allowed: true };
    return { verdict, parsed, base, nowMs };
  };

  const hit = async (scope: string, key: string, windows: Readonly<Record<string, number>>) => {
    const { verdict, parsed, base, nowMs } = await check(scope, key, windows);
    if (verdict.allowed) await Promise.all(parsed.map((window) => increment(base, window, nowMs)));
    return verdict;
  };
  const peek = async (scope: string, key: string, windows: Readonly<Record<string, number>>) =>
    (await check(scope, key, windows)).verdict;
  // Hashed: the key holds an address, and object keys must not.
  const decisionKey = (scope: string, key: string, once: string): string =>
    `${DECISION_PREFIX}/${scope}/${sha256Hex(`${once}\0${key}`, 40)}.json`;
  const prior = async (scope: string, key: string, once: string) =>
    (await readJson(store, decisionKey(scope, key, once), DecisionSchema))?.value;

  return {
    hit,
    peek,
    async hitOnce(scope, key, windows, once) {
      const remembered = await prior(scope, key, once);
      if (remembered) return remembered;
      const verdict = await hit(scope, key, windows);
      const written = await store.putIfAbsent(decisionKey(scope, key, once), JSON.stringify(verdict));
      if (written !== 'exists') return verdict;
      // A concurrent retry of the same mail decided first: its answer stands.
      return (await prior(scope, key, once)) ?? verdict;
    },
    async peekOnce(scope, key, windows, once) {
      return (await prior(scope, key, once)) ?? peek(scope, key, windows);
    },
  };
};
