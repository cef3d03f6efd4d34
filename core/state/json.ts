import { createHash } from 'node:crypto';
import { setTimeout as sleep } from 'node:timers/promises';
import type * as z from 'zod';
import { type BackoffPolicy, backoffDelay } from '../backoff.ts';
import { PermanentError, TransientError } from '../errors.ts';
import type { ObjectStore } from '../ports.ts';

/**
 * JSON documents on the ObjectStore port: read with a schema, and updated by read-modify-write with
 * `If-Match` (or `If-None-Match: *` for the first write), retried on a lost race. Every state module
 * (ledger, tickets, quarantine, rate counters) is built on these two functions.
 */

/** A document and the etag it was read with. */
/** Lost compare-and-swap rounds wait a few milliseconds, so colliding writers fall apart. */
const CAS_BACKOFF: BackoffPolicy = { baseMs: 5, capMs: 80 };

export interface Versioned<T> {
  value: T;
  etag: string;
}

/** SHA-256 in hex, optionally truncated: keys built from untrusted text (message ids, addresses). */
export const sha256Hex = (text: string, chars = 64): string =>
  createHash('sha256').update(text, 'utf8').digest('hex').slice(0, chars);

/** Reads and checks one document; undefined when absent. A document that fails its schema is a PermanentError. */
export const readJson = async <S extends z.ZodType>(
  store: ObjectStore,
  key: string,
  schema: S,
): Promise<Versioned<z.output<S>> | undefined> => {
  const stored = await store.get(key);
  if (!stored) return undefined;
  let raw: unknown;
  try {
    raw = JSON.parse(stored.body);
  } catch (error) {
    throw new PermanentError('state_corrupt', `${key} is not JSON; inspect or delete it`, { cause: error });
  }
  const parsed = schema.safeParse(raw);
  if (!parsed.success) {
    const first = parsed.error.issues[0];
    throw new PermanentError(
      'state_corrupt',
      `${key} does not have the expected shape (${first ? `${first.path.join('.') || '(root)'}: ${first.message}` : 'invalid'}); inspect or delete it`,
    );
  }
  return { value: parsed.data, etag: stored.etag };
};

export interface UpdateOptions {
  /**
   * Read-modify-write rounds before giving up with a TransientError.
   * @default 8
   */
  attempts?: number;
  /** Error code thrown when every attempt lost its race, e.g. `ticket_conflict`. */
  conflictCode: string;
}

/**
 * Read-modify-write with compare-and-swap. `change` gets the current document (undefined when
 * absent) and returns the next one, or undefined to leave it as it is; it may run several times, so
 * it must be pure. A lost race re-reads and re-applies, after a short random pause so that many
 * writers on one key do not retry in lockstep.
 */
export const updateJson = async <S extends z.ZodType>(
  store: ObjectStore,
  key: string,
  schema: S,
  change: (current: z.output<S> | undefined) => z.output<S> | undefined,
  options: UpdateOptions,
): Promise<Versioned<z.output<S>> | undefined> => {
  const attempts = options.attempts ?? 8;
  for (let attempt = 1; attempt <= attempts; attempt++) {
    const current = await readJson(store, key, schema);
    const next = change(current?.value);
    if (next === undefined) return current;
    const body = JSON.stringify(next);
    const written = current
      ? await store.putIfMatch(key, body, current.etag)
      : await store.putIfAbsent(key, body);
    if (written !== 'conflict' && written !== 'exists') return { value: next, etag: written.etag };
    if (attempt < attempts) await sleep(backoffDelay(CAS_BACKOFF, attempt));
  }
  throw new TransientError(
    options.conflictCode,
    `${key} kept changing under us (${attempts} compare-and-swap attempts lost); retry later`,
  );
};
