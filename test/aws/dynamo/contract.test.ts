import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { dynamoState } from '../../../adapters/aws/dynamo/index.ts';
import { createMemoryObjectStore } from '../../../adapters/local/memory-object-store.ts';
import type { Clock } from '../../../core/ports.ts';
import { type DeskState, objectStoreState } from '../../../core/state/index.ts';
import type { LedgerBegin } from '../../../core/state/ledger.ts';
import type { DecisionTrace } from '../../../core/trace.ts';
import { type Dynalite, startDynalite } from './dynalite.ts';

/**
 * One behaviour suite, run against the object-store state (in memory) and the DynamoDB state
 * (dynalite): the pure code above the ports must not be able to tell them apart.
 */

const fakeClock = (start = Date.parse('2025-01-01T00:00:00Z')) => {
  let now = start;
  const clock: Clock = { now: () => new Date(now) };
  return { clock, advance: (ms: number) => (now += ms) };
};

let db: Dynalite;
beforeAll(async () => {
  db = await startDynalite();
});
afterAll(async () => {
  await db.stop();
});

const backends: Record<string, (clock: Clock) => Promise<DeskState>> = {
  'object store': async (clock) => objectStoreState(createMemoryObjectStore(), { clock }),
  dynamodb: async (clock) => dynamoState({ client: db.client, tableName: await db.createTable(), clock }),
};

const ledgerInput = {
  mailId: 'ses-0001',
  projectKey: 'game',
  projectPath: 'acme/game',
  kind: 'issue' as const,
  marker: 'pd-000000000000000000000001',
};

const expectState = <S extends LedgerBegin['state']>(begun: LedgerBegin, state: S) => {
  expect(begun.state).toBe(state);
  return begun as Extract<LedgerBegin, { state: S }>;
};

const trace = (mailId: string): DecisionTrace => ({ mailId, stages: [] }) as unknown as DecisionTrace;

describe.each(Object.entries(backends))('desk state on %s', (_name, make) => {
  it('lets one of two workers claim a ledger entry', async () => {
    // Prepare
    const { clock } = fakeClock();
    const state = await make(clock);
    // Act
    const [first, second] = await Promise.all([
      state.ledger.begin(ledgerInput),
      state.ledger.begin(ledgerInput),
    ]);
    // Assess
    const states = [first.state, second.state].sort();
    expect(states).toEqual(['acquired', 'in_progress']);
    expect(state.ledger.key('ses-0001', 'game')).toBe('ledger/ses-0001/game.json');
  });

  it('takes over an expired lease once, then completes it', async () => {
    // Prepare
    const { clock, advance } = fakeClock();
    const state = await make(clock);
    expectState(await state.ledger.begin(ledgerInput), 'acquired');
    advance(state.ledger.leaseMs - 1);
    expectState(await state.ledger.begin(ledgerInput), 'in_progress');
    advance(1);
    const stale = expectState(await state.ledger.begin(ledgerInput), 'stale');
    // Act
    const [a, b] = await Promise.all([state.ledger.takeOver(stale), state.ledger.takeOver(stale)]);
    // Assess
    const claims = [a, b].filter((claim) => claim !== undefined);
    expect(claims).toHaveLength(1);
    const claim = claims[0];
    if (!claim) throw new Error('no claim');
    expect(claim.entry.attempt).toBe(2);
    const done = await state.ledger.complete(claim, { kind: 'issue', iid: 7, url: 'https://forge/7' });
    expect(done).toMatchObject({ state: 'done', result: { iid: 7 } });
    expectState(await state.ledger.begin(ledgerInput), 'done');
  });

  it('completes after being taken over, and a released lease is stale at once', async () => {
    // Prepare
    const { clock, advance } = fakeClock();
    const state = await make(clock);
    const slow = expectState(await state.ledger.begin(ledgerInput), 'acquired');
    advance(state.ledger.leaseMs);
    const stale = expectState(await state.ledger.begin(ledgerInput), 'stale');
    const fast = await state.ledger.takeOver(stale);
    // Act
    const done = await state.ledger.complete(slow.claim, { kind: 'issue', iid: 3, url: 'u' });
    // Assess
    expect(done).toMatchObject({ state: 'done', attempt: 2 });
    expect(fast).toBeDefined();
    const other = await make(clock);
    const mine = expectState(await other.ledger.begin(ledgerInput), 'acquired');
    await other.ledger.release(mine.claim);
    expectState(await other.ledger.begin(ledgerInput), 'stale');
  });

  it('records message ids and participants alike, beside a concurrent outbound write', async () => {
    // Prepare
    const { clock } = fakeClock();
    const state = await make(clock);
    const ref = { projectPath: 'Acme/Game', iid: 4 };
    await state.tickets.recordInbound({
      ...ref,
      mailId: 'ses-1',
      messageId: '<m1@example.com>',
      sender: { address: 'Ann@Example.com', name: 'Ann' },
      cc: [{ address: 'bob@example.com', name: 'Bob' }],
      participantsFromCc: true,
      isDeskAddress: () => false,
    });
    // Act: the first run of `change` writes underneath it, so its own write loses the race.
    let runs = 0;
    let outbound: Promise<unknown> | undefined;
    const record = await state.tickets.update('acme/game', 4, (current) => {
      runs += 1;
      if (!current) return undefined;
      if (runs === 1) outbound = state.tickets.recordOutbound('acme/game', 4, '<out-1@amazonses.com>');
      return { ...current, updatedAt: `run-${runs}` };
    });
    // Assess
    expect(runs).toBeGreaterThanOrEqual(1);
    expect(record?.participants.map((p) => p.address)).toEqual(['ann@example.com', 'bob@example.com']);
    await outbound;
    const latest = await state.tickets.get('ACME/game', 4);
    expect(latest?.outboundMessageIds).toEqual(['out-1@amazonses.com']);
    expect(latest?.inboundMessageIds).toEqual(['m1@example.com']);
    expect(await state.tickets.lookupMessageId('m1@example.com')).toEqual([ref]);
    expect(await state.tickets.lookupMessageId('<out-1@amazonses.com>')).toEqual([
      { projectPath: 'acme/game', iid: 4 },
    ]);
    expect(await state.tickets.lookupMessageId('<unknown@x>')).toEqual([]);
    expect(await state.tickets.markUndeliverable('acme/game', 4, 'BOB@example.com', 'bounce')).toMatchObject({
      participants: [
        { address: 'ann@example.com' },
        { address: 'bob@example.com', undeliverable: { reason: 'bounce' } },
      ],
    });
    expect(
      await state.tickets.markUndeliverable('acme/game', 99, 'bob@example.com', 'bounce'),
    ).toBeUndefined();
  });

  it('counts sequential hits exactly up to the limit', async () => {
    // Prepare
    const { clock, advance } = fakeClock();
    const state = await make(clock);
    const verdicts = [];
    // Act
    for (let i = 0; i < 4; i++) {
      verdicts.push((await state.limiter.hit('thanks', 'k', { '10': 3 })).allowed);
      advance(1000);
    }
    // Assess
    expect(verdicts).toEqual([true, true, true, false]);
    await expect(state.limiter.hit('Bad Scope', 'k', { '10': 3 })).rejects.toMatchObject({
      code: 'rate_limit_scope_invalid',
    });
  });

  it('peek gives the verdict a hit would get and counts nothing', async () => {
    // Prepare
    const { clock } = fakeClock();
    const state = await make(clock);
    for (let i = 0; i < 2; i++) await state.limiter.hit('inbound', 'k', { '10': 3 });
    // Act
    const peeks = [];
    for (let i = 0; i < 3; i++) peeks.push(await state.limiter.peek('inbound', 'k', { '10': 3 }));
    const third = await state.limiter.hit('inbound', 'k', { '10': 3 });
    const full = await state.limiter.peek('inbound', 'k', { '10': 3 });
    // Assess
    expect(peeks).toEqual([{ allowed: true }, { allowed: true }, { allowed: true }]);
    expect(third).toEqual({ allowed: true });
    expect(full).toEqual({ allowed: false, exceeded: '3/10s' });
    expect(await state.limiter.peek('inbound', 'other', { '10': 3 })).toEqual({ allowed: true });
  });

  it('hitOnce counts a mail once: a retry gets its first answer back, and peekOnce reads it', async () => {
    // Prepare: a window of 2
    const { clock } = fakeClock();
    const state = await make(clock);
    const windows = { '60': 2 };
    // Act
    const first = await state.limiter.hitOnce('inbound_ticket', 'k', windows, 'm1');
    const again = await state.limiter.hitOnce('inbound_ticket', 'k', windows, 'm1');
    const second = await state.limiter.hitOnce('inbound_ticket', 'k', windows, 'm2');
    const third = await state.limiter.hitOnce('inbound_ticket', 'k', windows, 'm3');
    const [racing, alsoRacing] = await Promise.all([
      state.limiter.hitOnce('inbound_ticket', 'k', windows, 'm4'),
      state.limiter.hitOnce('inbound_ticket', 'k', windows, 'm4'),
    ]);
    // Assess
    expect([first, again, second]).toEqual([{ allowed: true }, { allowed: true }, { allowed: true }]);
    expect(third).toEqual({ allowed: false, exceeded: '2/60s' });
    expect(racing).toEqual(alsoRacing);
    // m1 keeps its answer though the window is full now; a mail never counted gets the peek's.
    expect(await state.limiter.peekOnce('inbound_ticket', 'k', windows, 'm1')).toEqual({ allowed: true });
    expect(await state.limiter.peekOnce('inbound_ticket', 'k', windows, 'm9')).toEqual({
      allowed: false,
      exceeded: '2/60s',
    });
    // The mail is the once-key per (scope, key): another key counts on its own.
    expect(await state.limiter.hitOnce('inbound_ticket', 'other', windows, 'm1')).toEqual({ allowed: true });
  });

  it('a claim with its own lease holds for that lease, not the ledger default', async () => {
    // Prepare
    const { clock, advance } = fakeClock();
    const state = await make(clock);
    const long = state.ledger.leaseMs * 3;
    expectState(await state.ledger.begin({ ...ledgerInput, leaseMs: long }), 'acquired');
    // Act: past the default lease, inside the claim's own
    advance(state.ledger.leaseMs + 1);
    const during = await state.ledger.begin(ledgerInput);
    advance(long);
    const after = await state.ledger.begin(ledgerInput);
    // Assess
    expect(expectState(during, 'in_progress').retryAfterMs).toBe(long - state.ledger.leaseMs - 1);
    const stale = expectState(after, 'stale');
    const claim = await state.ledger.takeOver(stale, { leaseMs: long });
    expect(claim?.entry.leaseMs).toBe(long);
  });

  it('issue-rate-limit-sliding-undercount: a burst at the end of a bucket still counts in full', async () => {
    // Prepare: 10 s window, 1 s buckets; three hits late in the first bucket
    const { clock, advance } = fakeClock(Date.parse('2025-01-01T00:00:00Z'));
    const state = await make(clock);
    advance(900);
    for (let i = 0; i < 3; i++)
      expect((await state.limiter.hit('inbound', 'k', { '10': 3 })).allowed).toBe(true);
    // Act: the window's start cuts through that bucket, then leaves it
    advance(9600);
    const cut = await state.limiter.hit('inbound', 'k', { '10': 3 });
    advance(500);
    const after = await state.limiter.hit('inbound', 'k', { '10': 3 });
    // Assess
    expect(cut).toEqual({ allowed: false, exceeded: '3/10s' });
    expect(after).toEqual({ allowed: true });
  });

  it('stores, lists and releases quarantine entries', async () => {
    // Prepare
    const { clock } = fakeClock();
    const state = await make(clock);
    for (const id of ['b-2', 'a-1', 'c-3']) {
      await state.quarantine.put({
        mailId: id,
        rawKey: `mail/${id}`,
        reason: 'forge_forbidden',
        message: 'm',
        trace: trace(id),
      });
    }
    // Act
    const released = await state.quarantine.markReleased('b-2');
    // Assess
    expect(released.releasedAt).toBe('2025-01-01T00:00:00.000Z');
    const open = [];
    for await (const entry of state.quarantine.list()) open.push(entry.id);
    expect(open).toEqual(['a-1', 'c-3']);
    const all = [];
    for await (const entry of state.quarantine.list({ includeReleased: true })) all.push(entry.id);
    expect(all).toEqual(['a-1', 'b-2', 'c-3']);
    await expect(state.quarantine.markReleased('nope')).rejects.toMatchObject({
      code: 'quarantine_not_found',
    });
    expect(await state.quarantine.get('a-1')).toMatchObject({
      rawKey: 'mail/a-1',
      reason: 'forge_forbidden',
    });
  });

  it('remembers unsubscribes, sent mails and greetings per ticket', async () => {
    // Prepare
    const { clock } = fakeClock();
    const state = await make(clock);
    // Act
    const first = await state.outbound.unsubscribe('Acme/Game', 4, 'Ann@Example.com');
    const again = await state.outbound.unsubscribe('acme/game', 4, 'ann@example.com');
    await state.outbound.recordSent('acme/game', 4, 'job-1', 'mid-1');
    await state.outbound.recordSent('acme/game', 4, 'job-1', 'mid-2');
    const greeted = await state.outbound.greet('acme/game', 4, ['a@x.org', 'B@x.org']);
    const greetedAgain = await state.outbound.greet('acme/game', 4, ['b@x.org', 'c@x.org']);
    // Assess
    expect([first, again]).toEqual([true, false]);
    expect(greeted).toEqual(['a@x.org', 'b@x.org']);
    expect(greetedAgain).toEqual(['c@x.org']);
    const stored = await state.outbound.get('acme/game', 4);
    expect(stored.sent).toEqual([{ key: 'job-1', at: '2025-01-01T00:00:00.000Z', messageId: 'mid-1' }]);
    expect(stored.unsubscribed).toEqual([{ address: 'ann@example.com', at: '2025-01-01T00:00:00.000Z' }]);
    expect(await state.outbound.get('acme/game', 5)).toEqual({
      version: 1,
      unsubscribed: [],
      sent: [],
      greeted: [],
      intents: [],
    });
  });

  it('records the intent to send once, withdraws it, and fulfils it when the mail is sent', async () => {
    // Prepare
    const { clock } = fakeClock();
    const state = await make(clock);
    // Act
    const [first, second] = await Promise.all([
      state.outbound.beginSend('acme/game', 4, 'thank_you::ann@example.com'),
      state.outbound.beginSend('acme/game', 4, 'thank_you::ann@example.com'),
    ]);
    await state.outbound.abandonSend('acme/game', 4, 'thank_you::ann@example.com');
    const afterWithdrawal = await state.outbound.beginSend('acme/game', 4, 'thank_you::ann@example.com');
    await state.outbound.recordSent('acme/game', 4, 'thank_you::ann@example.com', 'mid-1');
    const afterSent = await state.outbound.beginSend('acme/game', 4, 'thank_you::ann@example.com');
    // Assess: one of two racing workers records it; none once the mail is recorded as sent.
    expect([first, second].sort()).toEqual([false, true]);
    expect([afterWithdrawal, afterSent]).toEqual([true, false]);
    const stored = await state.outbound.get('acme/game', 4);
    expect(stored.intents).toEqual([]);
    expect(stored.sent.map((entry) => entry.key)).toEqual(['thank_you::ann@example.com']);
  });
});
