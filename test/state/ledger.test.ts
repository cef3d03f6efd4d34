import { describe, expect, it } from 'vitest';
import { createMemoryObjectStore } from '../../adapters/local/memory-object-store.ts';
import type { Clock } from '../../core/ports.ts';
import { createLedger, DEFAULT_LEASE_MS, type LedgerBegin } from '../../core/state/ledger.ts';

const fakeClock = (start = Date.parse('2025-01-01T00:00:00Z')) => {
  let now = start;
  const clock: Clock = { now: () => new Date(now) };
  return { clock, advance: (ms: number) => (now += ms) };
};

const input = {
  mailId: 'ses-0001',
  projectKey: 'game',
  projectPath: 'acme/game',
  kind: 'issue' as const,
  marker: 'pd-000000000000000000000001',
};

const expectState = <S extends LedgerBegin['state']>(
  begun: LedgerBegin,
  state: S,
): Extract<LedgerBegin, { state: S }> => {
  expect(begun.state).toBe(state);
  return begun as Extract<LedgerBegin, { state: S }>;
};

describe('ledger', () => {
  it('creates a pending entry at ledger/<mailId>/<projectKey>.json before delivery', async () => {
    // Prepare
    const store = createMemoryObjectStore();
    const { clock } = fakeClock();
    const ledger = createLedger(store, { clock });
    // Act
    const begun = expectState(await ledger.begin(input), 'acquired');
    // Assess
    expect(begun.claim.key).toBe('ledger/ses-0001/game.json');
    expect(await ledger.get('ses-0001', 'game')).toMatchObject({
      state: 'pending',
      attempt: 1,
      marker: input.marker,
      startedAt: '2025-01-01T00:00:00.000Z',
    });
  });

  it('tells a second worker the delivery is in progress while the lease is fresh', async () => {
    const store = createMemoryObjectStore();
    const { clock, advance } = fakeClock();
    const ledger = createLedger(store, { clock });
    await ledger.begin(input);
    advance(60_000);
    const second = expectState(await ledger.begin(input), 'in_progress');
    expect(second.retryAfterMs).toBe(DEFAULT_LEASE_MS - 60_000);
  });

  it('returns the recorded result once done', async () => {
    const store = createMemoryObjectStore();
    const ledger = createLedger(store, { clock: fakeClock().clock });
    const { claim } = expectState(await ledger.begin(input), 'acquired');
    await ledger.complete(claim, {
      kind: 'issue',
      iid: 7,
      url: 'https://gitlab.example.com/acme/game/-/issues/7',
    });
    const again = expectState(await ledger.begin(input), 'done');
    expect(again.entry.result).toEqual({
      kind: 'issue',
      iid: 7,
      url: 'https://gitlab.example.com/acme/game/-/issues/7',
    });
  });

  it('lets exactly one of two workers take over an entry whose lease expired', async () => {
    // Prepare
    const store = createMemoryObjectStore();
    const { clock, advance } = fakeClock();
    const ledger = createLedger(store, { clock });
    await ledger.begin(input);
    advance(DEFAULT_LEASE_MS);
    // Act
    const a = expectState(await ledger.begin(input), 'stale');
    const b = expectState(await ledger.begin(input), 'stale');
    const [claimA, claimB] = await Promise.all([ledger.takeOver(a), ledger.takeOver(b)]);
    // Assess
    expect([claimA, claimB].filter(Boolean)).toHaveLength(1);
    expect(await ledger.get('ses-0001', 'game')).toMatchObject({ state: 'pending', attempt: 2 });
    expectState(await ledger.begin(input), 'in_progress');
  });

  it('honours a custom lease', async () => {
    const { clock, advance } = fakeClock();
    const ledger = createLedger(createMemoryObjectStore(), { clock, leaseMs: 1000 });
    await ledger.begin(input);
    advance(999);
    expectState(await ledger.begin(input), 'in_progress');
    advance(1);
    expectState(await ledger.begin(input), 'stale');
  });

  it("lease-overtaken-by-retry: the claimer's lease holds for every reader, however long", async () => {
    // Prepare: the first attempt runs in a 900 s invocation; the retry's ledger has the default lease.
    const { clock, advance } = fakeClock();
    const store = createMemoryObjectStore();
    const slow = createLedger(store, { clock, leaseMs: 930_000 });
    const retry = createLedger(store, { clock });
    await slow.begin(input);
    // Act: past the default 5 minutes, still inside the slow attempt's invocation
    advance(DEFAULT_LEASE_MS + 60_000);
    const seen = await retry.begin(input);
    // Assess
    expectState(seen, 'in_progress');
    expect(seen.state === 'in_progress' && seen.retryAfterMs).toBe(930_000 - DEFAULT_LEASE_MS - 60_000);
    advance(930_000);
    expectState(await retry.begin(input), 'stale');
  });

  it('makes a released entry stale at once', async () => {
    const ledger = createLedger(createMemoryObjectStore(), { clock: fakeClock().clock });
    const { claim } = expectState(await ledger.begin(input), 'acquired');
    await ledger.release(claim);
    const stale = expectState(await ledger.begin(input), 'stale');
    const taken = await ledger.takeOver(stale);
    expect(taken?.entry).toMatchObject({ attempt: 2 });
    expect(taken?.entry.releasedAt).toBeUndefined();
  });

  it('completes even when a slow worker lost its lease to another meanwhile', async () => {
    const store = createMemoryObjectStore();
    const { clock, advance } = fakeClock();
    const ledger = createLedger(store, { clock });
    const slow = expectState(await ledger.begin(input), 'acquired');
    advance(DEFAULT_LEASE_MS + 1);
    await ledger.takeOver(expectState(await ledger.begin(input), 'stale'));
    const done = await ledger.complete(slow.claim, { kind: 'issue', iid: 3, url: 'u' });
    expect(done).toMatchObject({ state: 'done', result: { iid: 3 } });
  });

  it('rejects a mail id that is not a safe key segment', async () => {
    const ledger = createLedger(createMemoryObjectStore(), { clock: fakeClock().clock });
    await expect(ledger.begin({ ...input, mailId: '../x' })).rejects.toMatchObject({
      code: 'ledger_key_invalid',
    });
  });
});
