import { TransientError } from '../core/errors.ts';
import type { Envelope, ReceiptVerdicts, VerdictStatus } from '../core/model.ts';
import { type Clock, type ObjectStore, systemClock } from '../core/ports.ts';
import { readJson } from '../core/state/json.ts';
import { type Quarantine, type QuarantineEntry, QuarantineEntrySchema } from '../core/state/quarantine.ts';
import type { DecisionTrace } from '../core/trace.ts';

/**
 * What `postdesk quarantine release` needs beyond core/state/quarantine.ts: a release claim that
 * tells the winner from the loser, and an InboundMail rebuilt from what the entry kept.
 */

export type ReleaseClaim =
  | { kind: 'claimed'; entry: QuarantineEntry }
  | { kind: 'already_released'; entry: QuarantineEntry }
  | { kind: 'not_found' };

/**
 * Marks the entry released with a compare-and-swap (`If-Match` on its etag). Of two releases at
 * once exactly one gets `claimed` and runs the mail; the other sees `already_released`. (The core's
 * `markReleased` keeps an existing `releasedAt`, so both callers would get an entry back and could
 * not tell who set it.)
 */
export const claimRelease = async (
  store: ObjectStore,
  quarantine: Quarantine,
  id: string,
  clock: Clock = systemClock,
): Promise<ReleaseClaim> => {
  const key = quarantine.key(id);
  for (let attempt = 0; attempt < 8; attempt++) {
    const current = await readJson(store, key, QuarantineEntrySchema);
    if (!current) return { kind: 'not_found' };
    if (current.value.releasedAt !== undefined) return { kind: 'already_released', entry: current.value };
    const next: QuarantineEntry = { ...current.value, releasedAt: clock.now().toISOString() };
    const written = await store.putIfMatch(key, JSON.stringify(next), current.etag);
    if (written !== 'conflict') return { kind: 'claimed', entry: next };
  }
  throw new TransientError('quarantine_conflict', `${key} kept changing while being released; try again`);
};

/**
 * Puts an entry back as it was (not released), noting why: a release whose run failed for now
 * (the forge down, a delivery lease still held) must leave the mail releasable, never lost.
 */
export const restoreEntry = async (
  quarantine: Quarantine,
  entry: QuarantineEntry,
  why: string,
): Promise<void> => {
  await quarantine.put({
    id: entry.id,
    mailId: entry.mailId,
    rawKey: entry.rawKey,
    reason: entry.reason,
    message: `${entry.message} [${why}]`,
    trace: entry.trace,
    createdAt: entry.createdAt,
  });
};

/** Recipients the first run routed (the envelope itself is not in the trace). */
export const envelopeFromTrace = (trace: DecisionTrace): Envelope => ({
  recipients: [...new Set(trace.routes.map((route) => route.address))],
  mailFrom: undefined,
});

const STATUSES = new Set<string>(['PASS', 'FAIL', 'GRAY', 'PROCESSING_FAILED', 'DISABLED', 'NONE']);
const status = (value: unknown): VerdictStatus =>
  typeof value === 'string' && STATUSES.has(value) ? (value as VerdictStatus) : 'NONE';

/**
 * The receipt verdicts the first run saw, read back from its authenticate stage: in AWS they came
 * from SES and cannot be computed again. Undefined when the mail stopped before authenticating.
 */
export const verdictsFromTrace = (trace: DecisionTrace): ReceiptVerdicts | undefined => {
  const detail = trace.stages.find((stage) => stage.stage === 'authenticate')?.detail;
  const verdicts = detail?.['verdicts'];
  if (typeof verdicts !== 'object' || verdicts === null) return undefined;
  const read = verdicts as Record<string, unknown>;
  const source = detail?.['source'];
  const policy = detail?.['dmarcPolicy'];
  const arc = detail?.['arc'] as ReceiptVerdicts['arc'] | undefined;
  return {
    spf: status(read['spf']),
    dkim: status(read['dkim']),
    dmarc: status(read['dmarc']),
    spam: status(read['spam']),
    virus: status(read['virus']),
    ...(policy === 'none' || policy === 'quarantine' || policy === 'reject' ? { dmarcPolicy: policy } : {}),
    ...(arc === undefined ? {} : { arc }),
    source: source === 'ses' || source === 'local' ? source : 'none',
  };
};
