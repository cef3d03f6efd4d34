import { describe, expect, it } from 'vitest';
import { createMemoryObjectStore } from '../../adapters/local/memory-object-store.ts';
import type { Clock } from '../../core/ports.ts';
import { createRateLimiter } from '../../core/state/rate-limit.ts';

const fakeClock = (start = Date.parse('2025-04-01T00:00:00Z')) => {
  let now = start;
  const clock: Clock = { now: () => new Date(now) };
  return { clock, advance: (ms: number) => (now += ms) };
};

describe('rate limiter', () => {
  it('allows up to the maximum in a window, then names the window that is full', async () => {
    const { clock } = fakeClock();
    const limiter = createRateLimiter(createMemoryObjectStore(), { clock });
    const verdicts = [];
    for (let index = 0; index < 4; index++)
      verdicts.push(await limiter.hit('ticket', 'acme/game#42', { '60': 3 }));
    expect(verdicts.map((verdict) => verdict.allowed)).toEqual([true, true, true, false]);
    expect(verdicts[3]).toEqual({ allowed: false, exceeded: '3/60s' });
  });

  it('slides: hits age out of the window', async () => {
    const { clock, advance } = fakeClock();
    const limiter = createRateLimiter(createMemoryObjectStore(), { clock });
    for (let index = 0; index < 3; index++) await limiter.hit('ticket', 'k', { '60': 3 });
    advance(30_000);
    expect((await limiter.hit('ticket', 'k', { '60': 3 })).allowed).toBe(false);
    advance(36_000);
    expect((await limiter.hit('ticket', 'k', { '60': 3 })).allowed).toBe(true);
  });

  it('checks every window and reports the first full one (Zammad-style per-ticket windows)', async () => {
    const { clock, advance } = fakeClock();
    const limiter = createRateLimiter(createMemoryObjectStore(), { clock });
    const windows = { '10': 2, '600': 3 };
    expect((await limiter.hit('ticket', 'k', windows)).allowed).toBe(true);
    expect((await limiter.hit('ticket', 'k', windows)).allowed).toBe(true);
    expect(await limiter.hit('ticket', 'k', windows)).toEqual({ allowed: false, exceeded: '2/10s' });
    advance(20_000);
    expect((await limiter.hit('ticket', 'k', windows)).allowed).toBe(true);
    expect(await limiter.hit('ticket', 'k', windows)).toEqual({ allowed: false, exceeded: '3/600s' });
  });

  it('does not count denied hits, keeps keys apart and hashes them out of the object keys', async () => {
    const { clock } = fakeClock();
    const store = createMemoryObjectStore();
    const limiter = createRateLimiter(store, { clock });
    await limiter.hit('thank_you', 'alice@example.com', { '10800': 1 });
    await limiter.hit('thank_you', 'alice@example.com', { '10800': 1 });
    expect((await limiter.hit('thank_you', 'bob@example.com', { '10800': 1 })).allowed).toBe(true);
    const keys = Object.keys(store.snapshot());
    expect(keys).toHaveLength(2);
    expect(keys.every((key) => key.startsWith('ratelimit/thank_you/') && !key.includes('@'))).toBe(true);
    expect(Object.values(store.snapshot())).toEqual(['{"count":1}', '{"count":1}']);
  });

  it('allows nothing for a maximum of 0 and rejects a bad window or scope', async () => {
    const limiter = createRateLimiter(createMemoryObjectStore(), { clock: fakeClock().clock });
    expect(await limiter.hit('desk', 'all', { '60': 0 })).toEqual({ allowed: false, exceeded: '0/60s' });
    await expect(limiter.hit('desk', 'all', { soon: 1 })).rejects.toMatchObject({
      code: 'rate_limit_window_invalid',
    });
    await expect(limiter.hit('Desk/..', 'all', { '60': 1 })).rejects.toMatchObject({
      code: 'rate_limit_scope_invalid',
    });
  });

  it('counts concurrent hits exactly (compare-and-swap on the bucket)', async () => {
    const { clock } = fakeClock();
    const store = createMemoryObjectStore();
    const limiter = createRateLimiter(store, { clock });
    await Promise.all(Array.from({ length: 10 }, () => limiter.hit('desk', 'all', { '600': 1000 })));
    expect(Object.values(store.snapshot())).toEqual(['{"count":10}']);
  });
});
