import { type DynamoDBClient, GetItemCommand, PutItemCommand } from '@aws-sdk/client-dynamodb';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ATTR, dynamoState } from '../../../adapters/aws/dynamo/index.ts';
import type { Clock } from '../../../core/ports.ts';
import { type Dynalite, startDynalite } from './dynalite.ts';

const START = Date.parse('2025-01-01T00:00:00Z');

const fakeClock = (start = START) => {
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

const fresh = async (clock: Clock, client: DynamoDBClient = db.client) => {
  const tableName = await db.createTable();
  return { tableName, state: dynamoState({ client, tableName, clock }) };
};

/** Runs `before` once, just ahead of the first PutItem on a `pk` starting with `prefix`. */
const interceptFirstPut = (client: DynamoDBClient, prefix: string, before: () => Promise<void>) => {
  let done = false;
  client.middlewareStack.add(
    (next) => async (args) => {
      const input = args.input as { Item?: { pk?: unknown } };
      const pk = input.Item?.pk;
      const text = typeof pk === 'string' ? pk : (pk as { S?: string } | undefined)?.S;
      if (!done && text?.startsWith(prefix)) {
        done = true;
        await before();
      }
      return next(args);
    },
    { step: 'initialize', name: 'interceptFirstPut' },
  );
};

const past = Math.floor(START / 1000) - 1;

describe('dynamoState on dynalite', () => {
  it('re-runs a ticket change whose version changed underneath it', async () => {
    // Prepare
    const { clock } = fakeClock();
    const client = db.newClient();
    const { tableName, state } = await fresh(clock, client);
    const other = dynamoState({ client: db.client, tableName, clock });
    await state.tickets.recordOutbound('acme/game', 4, '<first@amazonses.com>');
    interceptFirstPut(client, 'ticket#', () =>
      other.tickets.recordOutbound('acme/game', 4, '<second@amazonses.com>').then(() => undefined),
    );
    // Act
    const seen: number[] = [];
    const record = await state.tickets.update('acme/game', 4, (current) => {
      seen.push(current?.outboundMessageIds.length ?? 0);
      return current ? { ...current, updatedAt: 'changed' } : undefined;
    });
    // Assess
    expect(seen).toEqual([1, 2]);
    expect(record).toMatchObject({
      updatedAt: 'changed',
      outboundMessageIds: ['first@amazonses.com', 'second@amazonses.com'],
    });
    client.destroy();
  });

  it('lets exactly the limit through under 20 concurrent hits', async () => {
    // Prepare
    const { clock } = fakeClock();
    const { state } = await fresh(clock);
    // Act
    const verdicts = await Promise.all(
      Array.from({ length: 20 }, () =>
        state.limiter.hit('inbound', 'ann@example.com', { '60': 5, '600': 50 }),
      ),
    );
    // Assess
    expect(verdicts.filter((verdict) => verdict.allowed)).toHaveLength(5);
    expect(verdicts.filter((verdict) => !verdict.allowed)).toEqual(
      Array.from({ length: 15 }, () => ({ allowed: false, exceeded: '5/60s' })),
    );
  });

  it('keeps the counters in one item with a TTL past the longest window', async () => {
    // Prepare
    const { clock } = fakeClock();
    const { tableName, state } = await fresh(clock);
    // Act
    await state.limiter.hit('thanks', 'ann@example.com', { '60': 5, '3600': 20 });
    // Assess
    const { createHash } = await import('node:crypto');
    const hash = createHash('sha256').update('ann@example.com').digest('hex').slice(0, 32);
    const item = await db.client.send(
      new GetItemCommand({
        TableName: tableName,
        Key: { pk: { S: `ratelimit#thanks#${hash}` }, sk: { S: '-' } },
      }),
    );
    expect(item.Item?.[ATTR.expiresAt]).toEqual({ N: String(START / 1000 + 3600 + 360 + 1) });
    expect(
      Object.keys(item.Item ?? {})
        .filter((name) => name.startsWith('w'))
        .sort(),
    ).toEqual([`w3600_${START / 360_000}`, `w60_${START / 6000}`]);
    expect(JSON.stringify(item.Item)).not.toContain('ann@example.com');
  });

  it('ignores items whose expires_at has passed before the TTL sweep deletes them', async () => {
    // Prepare
    const { clock } = fakeClock();
    const { tableName, state } = await fresh(clock);
    const put = (pk: string, sk: string, extra: Record<string, { N: string } | { S: string }>) =>
      db.client.send(
        new PutItemCommand({
          TableName: tableName,
          Item: {
            pk: { S: pk },
            sk: { S: sk },
            expires_at: { N: String(past) },
            version: { N: '3' },
            ...extra,
          },
        }),
      );
    const { createHash } = await import('node:crypto');
    const hash = createHash('sha256').update('ann@example.com').digest('hex').slice(0, 32);
    await put(`ratelimit#inbound#${hash}`, '-', { [`w60_${START / 6000}`]: { N: '99' } });
    await put('ticket#acme/game', '4', { doc: { S: '{"not":"a ticket"}' } });
    await put('ledger#ses-1', 'game', { doc: { S: '{"not":"an entry"}' } });
    // Act
    const hit = await state.limiter.hit('inbound', 'ann@example.com', { '60': 2 });
    const ticket = await state.tickets.get('acme/game', 4);
    const recorded = await state.tickets.recordOutbound('acme/game', 4, '<m@x>');
    const begun = await state.ledger.begin({
      mailId: 'ses-1',
      projectKey: 'game',
      projectPath: 'acme/game',
      kind: 'issue',
      marker: 'pd-1',
    });
    // Assess
    expect(hit).toEqual({ allowed: true });
    expect(await state.limiter.hit('inbound', 'ann@example.com', { '60': 2 })).toEqual({ allowed: true });
    expect(await state.limiter.hit('inbound', 'ann@example.com', { '60': 2 })).toEqual({
      allowed: false,
      exceeded: '2/60s',
    });
    expect(ticket).toBeUndefined();
    expect(recorded.outboundMessageIds).toEqual(['m@x']);
    expect(begun.state).toBe('acquired');
  });

  it('refuses a take-over while the lease is still live, even with the right version', async () => {
    // Prepare
    const { clock, advance } = fakeClock();
    const { state } = await fresh(clock);
    const input = {
      mailId: 'ses-2',
      projectKey: 'game',
      projectPath: 'acme/game',
      kind: 'issue' as const,
      marker: 'pd-2',
    };
    const first = await state.ledger.begin(input);
    if (first.state !== 'acquired') throw new Error(first.state);
    advance(1000);
    // Act: a forged stale view of a live entry
    const taken = await state.ledger.takeOver({
      state: 'stale',
      entry: first.claim.entry,
      etag: first.claim.etag,
    });
    // Assess
    expect(taken).toBeUndefined();
    expect((await state.ledger.begin(input)).state).toBe('in_progress');
  });
});
