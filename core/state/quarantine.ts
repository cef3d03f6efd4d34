import * as z from 'zod';
import { PermanentError } from '../errors.ts';
import type { Clock, ObjectStore } from '../ports.ts';
import type { DecisionTrace } from '../trace.ts';
import { readJson, sha256Hex, updateJson } from './json.ts';

/**
 * Quarantine: mail kept but not delivered, at `quarantine/<id>.json`, with the reason and the whole
 * decision trace, so `postdesk quarantine list/show/release` can say why and re-run it. The raw
 * mail itself stays under `mail/` (`rawKey`); releasing marks the entry and re-queues that key.
 */

const isTrace = (value: unknown): value is DecisionTrace =>
  typeof value === 'object' && value !== null && 'mailId' in value && 'stages' in value;

export const QuarantineEntrySchema = z.object({
  version: z.literal(1),
  id: z.string(),
  mailId: z.string(),
  rawKey: z.string(),
  /** Reason code (the stage's or the error's), e.g. `reply_from_stranger`, `forge_forbidden`. */
  reason: z.string(),
  message: z.string(),
  trace: z.custom<DecisionTrace>(isTrace, { message: 'not a decision trace' }),
  createdAt: z.string(),
  releasedAt: z.string().optional(),
});
export type QuarantineEntry = z.output<typeof QuarantineEntrySchema>;

export interface QuarantineInput {
  /** Defaults to the mail id (hashed when it is not a safe key segment). */
  id?: string | undefined;
  mailId: string;
  rawKey: string;
  reason: string;
  message: string;
  trace: DecisionTrace;
  /** ISO 8601; defaults to the clock's now. */
  createdAt?: string | undefined;
}

export interface Quarantine {
  key(id: string): string;
  /** Stores (or, for the same id, replaces) an entry; a retried quarantine keeps the latest trace. */
  put(input: QuarantineInput): Promise<QuarantineEntry>;
  get(id: string): Promise<QuarantineEntry | undefined>;
  /** Entries in key order; released ones only with `includeReleased`. */
  list(options?: { includeReleased?: boolean }): AsyncIterable<QuarantineEntry>;
  /** Sets `releasedAt` (kept if already set). Throws PermanentError `quarantine_not_found`. */
  markReleased(id: string): Promise<QuarantineEntry>;
}

const SAFE_ID = /^[A-Za-z0-9_][A-Za-z0-9._-]{0,199}$/;
const PREFIX = 'quarantine/';

/** The entry id for a mail: its id when that is a safe key segment, else a hash of it. */
export const quarantineIdFor = (mailId: string): string =>
  SAFE_ID.test(mailId) ? mailId : `h-${sha256Hex(mailId, 32)}`;

export interface QuarantineOptions {
  /** The desk's clock: dates an entry put without `createdAt`, and its release. */
  clock: Clock;
}

export const createQuarantine = (store: ObjectStore, options: QuarantineOptions): Quarantine => {
  const { clock } = options;

  const key = (id: string): string => {
    if (!SAFE_ID.test(id)) {
      throw new PermanentError(
        'quarantine_id_invalid',
        `quarantine id ${JSON.stringify(id)} is not valid (letters, digits, ".", "_" and "-" only)`,
      );
    }
    return `${PREFIX}${id}.json`;
  };

  const get = async (id: string): Promise<QuarantineEntry | undefined> =>
    (await readJson(store, key(id), QuarantineEntrySchema))?.value;

  return {
    key,
    get,

    async put(input) {
      const id = input.id ?? quarantineIdFor(input.mailId);
      const entry: QuarantineEntry = {
        version: 1,
        id,
        mailId: input.mailId,
        rawKey: input.rawKey,
        reason: input.reason,
        message: input.message,
        trace: input.trace,
        createdAt: input.createdAt ?? clock.now().toISOString(),
      };
      await store.put(key(id), JSON.stringify(entry));
      return entry;
    },

    async *list(listOptions = {}) {
      for await (const entryKey of store.list(PREFIX)) {
        if (!entryKey.endsWith('.json')) continue;
        const entry = (await readJson(store, entryKey, QuarantineEntrySchema))?.value;
        // An entry deleted while we list is simply gone.
        if (!entry) continue;
        if (entry.releasedAt !== undefined && listOptions.includeReleased !== true) continue;
        yield entry;
      }
    },

    async markReleased(id) {
      const updated = await updateJson(
        store,
        key(id),
        QuarantineEntrySchema,
        (current) =>
          current === undefined || current.releasedAt !== undefined
            ? undefined
            : { ...current, releasedAt: clock.now().toISOString() },
        { conflictCode: 'quarantine_conflict' },
      );
      if (!updated) throw new PermanentError('quarantine_not_found', `no quarantined mail with id ${id}`);
      return updated.value;
    },
  };
};
