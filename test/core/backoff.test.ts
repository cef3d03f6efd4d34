import { describe, expect, it } from 'vitest';
import { type BackoffPolicy, backoffDelay, parseRetryAfter } from '../../core/backoff.ts';
import { cachedOnce } from '../../core/cached-once.ts';

describe('backoffDelay', () => {
  const policy = (random: number, extra: Partial<BackoffPolicy> = {}): BackoffPolicy => ({
    baseMs: 100,
    capMs: 1_000,
    random: () => random,
    ...extra,
  });

  it('full jitter: [0, min(cap, base * 2^(n-1)))', () => {
    expect([1, 2, 3, 4, 5, 9].map((attempt) => backoffDelay(policy(0.999), attempt))).toEqual([
      99, 199, 399, 799, 999, 999,
    ]);
    expect(backoffDelay(policy(0), 3)).toBe(0);
  });

  it('equal jitter: [step/2, step)', () => {
    expect(backoffDelay(policy(0, { jitter: 'equal' }), 3)).toBe(200);
    expect(backoffDelay(policy(0.5, { jitter: 'equal' }), 3)).toBe(300);
  });

  it('honours Retry-After up to its bound, never less than the backoff', () => {
    expect(backoffDelay(policy(0), 1, 5_000)).toBe(1_000);
    expect(backoffDelay(policy(0, { maxRetryAfterMs: 10_000 }), 1, 5_000)).toBe(5_000);
    expect(backoffDelay(policy(0.999), 4, 10)).toBe(799);
  });

  it('a zero base never waits', () => {
    expect(backoffDelay({ baseMs: 0, capMs: 0 }, 5)).toBe(0);
  });

  it('parses Retry-After as seconds or an HTTP date', () => {
    const now = Date.parse('2026-12-02T10:00:00Z');
    expect(parseRetryAfter('7', now)).toBe(7_000);
    expect(parseRetryAfter('Wed, 02 Dec 2026 10:00:30 GMT', now)).toBe(30_000);
    expect(parseRetryAfter('Wed, 02 Dec 2026 09:00:00 GMT', now)).toBe(0);
    expect(parseRetryAfter('soon', now)).toBeUndefined();
    expect(parseRetryAfter(undefined, now)).toBeUndefined();
  });
});

describe('cachedOnce', () => {
  it('builds once for concurrent and later calls', async () => {
    let builds = 0;
    const get = cachedOnce(async () => {
      builds += 1;
      return builds;
    });
    const [a, b] = await Promise.all([get(), get()]);
    expect([a, b, await get()]).toEqual([1, 1, 1]);
    expect(builds).toBe(1);
  });

  it('forgets a failed build, so the next call tries again, and reports it once', async () => {
    let builds = 0;
    const errors: unknown[] = [];
    const get = cachedOnce(
      async () => {
        builds += 1;
        if (builds === 1) throw new Error('secret unreachable');
        return 'wired';
      },
      (error) => errors.push(error),
    );
    await expect(get()).rejects.toThrow('secret unreachable');
    expect(await get()).toBe('wired');
    expect(errors).toHaveLength(1);
  });
});
