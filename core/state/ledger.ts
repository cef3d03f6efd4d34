import * as z from 'zod';
import { PermanentError, TransientError } from '../errors.ts';
import type { Clock, ObjectStore } from '../ports.ts';
import { readJson } from './json.ts';

/**
 * The delivery ledger: one entry per (mail, project) at `ledger/<mailId>/<projectKey>.json`, the
 * lease that makes delivery exactly-once (DESIGN "deliver"; reference aws-ses-inbound.md §5, "a
 * lease object before the call").
 *
 * 1. `begin` creates the entry `pending` with `If-None-Match: *` BEFORE the forge is called. Of two
 *    workers on the same mail only one creates it; the other learns it is in progress (or done).
 * 2. `complete` turns it `done` with `If-Match`, recording what was made.
 * 3. A `pending` entry older than the lease (or released by a worker that failed cleanly) belongs to
 *    a worker that crashed: `takeOver` claims it by compare-and-swap, and the caller then looks for
 *    the hidden marker before making anything, because the crashed worker may have got as far as
 *    the forge call.
 */

/** How long a pending entry protects a delivery in progress. @default 5 minutes */
export const DEFAULT_LEASE_MS = 5 * 60_000;

export const LedgerResultSchema = z.discriminatedUnion('kind', [
  z.object({ kind: z.literal('issue'), iid: z.number().int(), url: z.string() }),
  z.object({
    kind: z.literal('note'),
    issueIid: z.number().int(),
    noteId: z.number().int(),
    reopened: z.boolean().optional(),
  }),
]);
export type LedgerResult = z.output<typeof LedgerResultSchema>;

export const LedgerEntrySchema = z.object({
  version: z.literal(1),
  mailId: z.string(),
  projectKey: z.string(),
  projectPath: z.string(),
  /** What is being delivered: a new issue, or a note on `issueIid`. */
  kind: z.enum(['issue', 'note']),
  issueIid: z.number().int().optional(),
  /** The hidden marker put in the issue description or note body, to find it after a crash. */
  marker: z.string(),
  state: z.enum(['pending', 'done']),
  /** 1 for the first worker, +1 on every take-over. */
  attempt: z.number().int().positive(),
  /** When the current attempt started (ISO 8601); the lease runs from here. */
  startedAt: z.string(),
  /**
   * How long the attempt that wrote this entry may run (ms): its invocation's remaining time plus
   * a margin, so a retry never takes over from an attempt that is still alive. Entries without it
   * (written before it existed) use the reader's lease.
   */
  leaseMs: z.number().int().positive().optional(),
  /** Set when the current attempt failed before or after (never during) its forge call: take over at once. */
  releasedAt: z.string().optional(),
  completedAt: z.string().optional(),
  result: LedgerResultSchema.optional(),
});
export type LedgerEntry = z.output<typeof LedgerEntrySchema>;

/** Proof that this worker holds the entry's lease: the etag it last wrote. */
export interface LedgerClaim {
  key: string;
  etag: string;
  entry: LedgerEntry;
}

export type LedgerBegin =
  /** This worker created the entry and holds the lease. */
  | { state: 'acquired'; claim: LedgerClaim }
  /** Delivered already: do nothing, report `result`. */
  | { state: 'done'; entry: LedgerEntry }
  /** Another worker holds a live lease; `retryAfterMs` until it expires. */
  | { state: 'in_progress'; entry: LedgerEntry; retryAfterMs: number }
  /** The lease expired or was released: `takeOver` may claim it. */
  | { state: 'stale'; entry: LedgerEntry; etag: string };

export interface LedgerBeginInput {
  mailId: string;
  projectKey: string;
  projectPath: string;
  kind: 'issue' | 'note';
  issueIid?: number | undefined;
  marker: string;
  /**
   * How long this attempt may run (ms), when it knows better than the ledger: the invocation's
   * remaining time plus a margin. @default the ledger's `leaseMs`
   */
  leaseMs?: number | undefined;
}

export interface Ledger {
  readonly leaseMs: number;
  key(mailId: string, projectKey: string): string;
  get(mailId: string, projectKey: string): Promise<LedgerEntry | undefined>;
  begin(input: LedgerBeginInput): Promise<LedgerBegin>;
  /**
   * Claims a stale entry (attempt + 1, fresh lease of `options.leaseMs`, by default the ledger's);
   * undefined when another worker claimed it first.
   */
  takeOver(
    stale: Extract<LedgerBegin, { state: 'stale' }>,
    options?: { leaseMs?: number | undefined },
  ): Promise<LedgerClaim | undefined>;
  /** Marks the entry done with its result. Idempotent; wins over a worker that took over meanwhile. */
  complete(claim: LedgerClaim, result: LedgerResult): Promise<LedgerEntry>;
  /**
   * Gives the lease back without completing, so a retry can take over at once instead of waiting
   * for the lease to expire. Only for failures where it is certain whether the forge call
   * happened; best effort (a lost race is ignored).
   */
  release(claim: LedgerClaim): Promise<void>;
}

export interface LedgerOptions {
  /** The desk's clock: leases are dated by it. */
  clock: Clock;
  /** @default DEFAULT_LEASE_MS (5 minutes) */
  leaseMs?: number;
}

/** Mail ids become key segments: SES ids and local ids are `[A-Za-z0-9._-]`. */
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

export const createLedger = (store: ObjectStore, options: LedgerOptions): Ledger => {
  const { clock } = options;
  const leaseMs = options.leaseMs ?? DEFAULT_LEASE_MS;

  const key = (mailId: string, projectKey: string): string =>
    `ledger/${checkSegment('mail id', mailId)}/${checkSegment('project key', projectKey)}.json`;

  const write = async (claim: LedgerClaim, next: LedgerEntry): Promise<LedgerClaim | undefined> => {
    const written = await store.putIfMatch(claim.key, JSON.stringify(next), claim.etag);
    return written === 'conflict' ? undefined : { key: claim.key, etag: written.etag, entry: next };
  };

  const classify = (entry: LedgerEntry, etag: string, ownLease: number): LedgerBegin => {
    if (entry.state === 'done') return { state: 'done', entry };
    const age = clock.now().getTime() - Date.parse(entry.startedAt);
    const lease = entry.leaseMs ?? ownLease;
    // An unreadable startedAt counts as expired: a lease nobody can date protects nothing.
    if (entry.releasedAt !== undefined || !(age < lease)) return { state: 'stale', entry, etag };
    return { state: 'in_progress', entry, retryAfterMs: Math.max(0, lease - age) };
  };

  return {
    leaseMs,
    key,

    async get(mailId, projectKey) {
      return (await readJson(store, key(mailId, projectKey), LedgerEntrySchema))?.value;
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
      // The entry can vanish between the failed create and the read only if someone deletes
      // ledger entries by hand; one more round covers that.
      for (let round = 0; round < 3; round++) {
        const created = await store.putIfAbsent(entryKey, JSON.stringify(entry));
        if (created !== 'exists')
          return { state: 'acquired', claim: { key: entryKey, etag: created.etag, entry } };
        const current = await readJson(store, entryKey, LedgerEntrySchema);
        if (current) return classify(current.value, current.etag, lease);
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
      );
    },

    async complete(claim, result) {
      let current: LedgerClaim = claim;
      for (let round = 0; round < 5; round++) {
        const { releasedAt: _released, ...rest } = current.entry;
        const done: LedgerEntry = { ...rest, state: 'done', completedAt: clock.now().toISOString(), result };
        const written = await write(current, done);
        if (written) return written.entry;
        // Our lease was taken over (we were slower than the lease). What we made exists, so the
        // entry must say done: unless it already does, overwrite the newer pending state.
        const latest = await readJson(store, claim.key, LedgerEntrySchema);
        if (!latest) throw new PermanentError('ledger_missing', `${claim.key} disappeared before completion`);
        if (latest.value.state === 'done') return latest.value;
        current = { key: claim.key, etag: latest.etag, entry: latest.value };
      }
      throw new TransientError('ledger_conflict', `${claim.key} kept changing while being completed`);
    },

    async release(claim) {
      await write(claim, { ...claim.entry, releasedAt: clock.now().toISOString() });
    },
  };
};
