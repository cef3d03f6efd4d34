import { PermanentError, TransientError } from '../../../core/errors.ts';
import type { Clock } from '../../../core/ports.ts';
import {
  DEFAULT_LEASE_MS,
  type Ledger,
  type LedgerBegin,
  type LedgerClaim,
  type LedgerEntry,
  LedgerEntrySchema,
} from '../../../core/state/ledger.ts';
import { ATTR, ITEM_KIND } from './constants.ts';
import { type DynamoTable, type Key, nowSeconds, parseDoc, readDoc } from './table.ts';

/**
 * The delivery ledger (core/state/ledger.ts) on DynamoDB: one item per (mail, project), pk
 * `ledger#<mailId>`, sk the project key. `begin` creates it with `attribute_not_exists(pk)`;
 * `takeOver` claims it only while it is at the version read AND its `lease_until` (epoch ms) has
 * passed, so two workers can never both hold a live lease; `complete` and `release` write on the
 * claim's version. The claim's `etag` is that version, as text.
 */

const SAFE_SEGMENT = /^[A-Za-z0-9_][A-Za-z0-9._-]{0,199}$/;

const checkSegment = (what: string, value: string): string => {
  if (!SAFE_SEGMENT.test(value)) {
    throw new PermanentError(
      'ledger_key_invalid',
      `${what} ${JSON.stringify(value)} cannot be used in a ledger key (letters, digits, ".", "_" and "-" only)`,
    );
  }
  return value;
};

export const createDynamoLedger = (
  table: DynamoTable,
  options: { clock: Clock; leaseMs?: number | undefined },
): Ledger => {
  const { clock } = options;
  const leaseMs = options.leaseMs ?? DEFAULT_LEASE_MS;

  // The same names as the object-store ledger, so logs and traces read alike.
  const key = (mailId: string, projectKey: string): string =>
    `ledger/${checkSegment('mail id', mailId)}/${checkSegment('project key', projectKey)}.json`;
  const itemKey = (mailId: string, projectKey: string): Key => ({
    pk: `${ITEM_KIND.ledger}${checkSegment('mail id', mailId)}`,
    sk: checkSegment('project key', projectKey),
  });

  /** Until when an entry's lease protects it: 0 once released or done, and for an undatable start. */
  const leaseUntil = (entry: LedgerEntry): number => {
    if (entry.state === 'done' || entry.releasedAt !== undefined) return 0;
    const started = Date.parse(entry.startedAt);
    return Number.isFinite(started) ? started + (entry.leaseMs ?? leaseMs) : 0;
  };

  const itemOf = (entry: LedgerEntry, version: number) => ({
    ...itemKey(entry.mailId, entry.projectKey),
    [ATTR.doc]: JSON.stringify(entry),
    [ATTR.version]: version,
    [ATTR.leaseUntil]: leaseUntil(entry),
  });

  /** Writes `next` if the entry is still at the claim's version; undefined when it was not. */
  const write = async (
    claim: LedgerClaim,
    next: LedgerEntry,
    leaseMustHaveExpired = false,
  ): Promise<LedgerClaim | undefined> => {
    const version = Number(claim.etag);
    const written = await table.put({
      Item: itemOf(next, version + 1),
      ConditionExpression: leaseMustHaveExpired ? '#v = :v AND #lease < :now' : '#v = :v',
      ExpressionAttributeNames: {
        '#v': ATTR.version,
        ...(leaseMustHaveExpired ? { '#lease': ATTR.leaseUntil } : {}),
      },
      ExpressionAttributeValues: {
        ':v': version,
        ...(leaseMustHaveExpired ? { ':now': clock.now().getTime() + 1 } : {}),
      },
    });
    return written === 'conflict' ? undefined : { key: claim.key, etag: String(version + 1), entry: next };
  };

  const classify = (entry: LedgerEntry, version: number, ownLease: number): LedgerBegin => {
    if (entry.state === 'done') return { state: 'done', entry };
    const age = clock.now().getTime() - Date.parse(entry.startedAt);
    const lease = entry.leaseMs ?? ownLease;
    // An unreadable startedAt counts as expired: a lease nobody can date protects nothing.
    if (entry.releasedAt !== undefined || !(age < lease))
      return { state: 'stale', entry, etag: String(version) };
    return { state: 'in_progress', entry, retryAfterMs: Math.max(0, lease - age) };
  };

  const read = (mailId: string, projectKey: string) =>
    readDoc(table, itemKey(mailId, projectKey), LedgerEntrySchema);

  return {
    leaseMs,
    key,

    async get(mailId, projectKey) {
      return (await read(mailId, projectKey))?.value;
    },

    async begin(input) {
      const lease = input.leaseMs ?? leaseMs;
      const entryKey = key(input.mailId, input.projectKey);
      const entry: LedgerEntry = {
        version: 1,
        mailId: input.mailId,
        projectKey: input.projectKey,
        projectPath: input.projectPath,
        kind: input.kind,
        ...(input.issueIid === undefined ? {} : { issueIid: input.issueIid }),
        marker: input.marker,
        state: 'pending',
        attempt: 1,
        startedAt: clock.now().toISOString(),
        leaseMs: lease,
      };
      for (let round = 0; round < 3; round++) {
        const created = await table.put({
          Item: itemOf(entry, 1),
          // An item past its TTL is absent, even before DynamoDB's sweep deletes it.
          ConditionExpression: 'attribute_not_exists(#pk) OR #exp <= :now',
          ExpressionAttributeNames: { '#pk': ATTR.pk, '#exp': ATTR.expiresAt },
          ExpressionAttributeValues: { ':now': nowSeconds(clock) },
        });
        if (created === 'ok') return { state: 'acquired', claim: { key: entryKey, etag: '1', entry } };
        const current = await read(input.mailId, input.projectKey);
        if (current) return classify(current.value, current.version, lease);
      }
      throw new PermanentError('ledger_unstable', `${entryKey} keeps appearing and disappearing`);
    },

    async takeOver(stale, takeOverOptions = {}) {
      const { releasedAt: _released, ...rest } = stale.entry;
      const next: LedgerEntry = {
        ...rest,
        attempt: stale.entry.attempt + 1,
        startedAt: clock.now().toISOString(),
        leaseMs: takeOverOptions.leaseMs ?? leaseMs,
      };
      return write(
        { key: key(stale.entry.mailId, stale.entry.projectKey), etag: stale.etag, entry: stale.entry },
        next,
        true,
      );
    },

    async complete(claim, result) {
      let current: LedgerClaim = claim;
      const { mailId, projectKey } = claim.entry;
      for (let round = 0; round < 5; round++) {
        const { releasedAt: _released, ...rest } = current.entry;
        const done: LedgerEntry = { ...rest, state: 'done', completedAt: clock.now().toISOString(), result };
        const written = await write(current, done);
        if (written) return written.entry;
        // Our lease was taken over (we were slower than the lease). What we made exists, so the
        // entry must say done: unless it already does, overwrite the newer pending state.
        const latest = await table.get(itemKey(mailId, projectKey));
        if (!latest) throw new PermanentError('ledger_missing', `${claim.key} disappeared before completion`);
        const entry = parseDoc(table, itemKey(mailId, projectKey), latest, LedgerEntrySchema);
        if (entry.state === 'done') return entry;
        current = { key: claim.key, etag: String(latest[ATTR.version]), entry };
      }
      throw new TransientError('ledger_conflict', `${claim.key} kept changing while being completed`);
    },

    async release(claim) {
      await write(claim, { ...claim.entry, releasedAt: clock.now().toISOString() });
    },
  };
};
