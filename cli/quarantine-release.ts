import { join } from 'node:path';
import type { VerdictResolver } from '../adapters/local/verdicts.ts';
import { errorMessage, isTransient, PermanentError, TransientError } from '../core/errors.ts';
import type { Envelope, InboundMail, ReceiptVerdicts, VerdictStatus } from '../core/model.ts';
import { type PipelineDeps, processMail } from '../core/pipeline.ts';
import { type Clock, type ObjectStore, systemClock } from '../core/ports.ts';
import { readJson } from '../core/state/json.ts';
import { type Quarantine, type QuarantineEntry, QuarantineEntrySchema } from '../core/state/quarantine.ts';
import type { DecisionTrace } from '../core/trace.ts';
import { summarise } from './commands/ingest.ts';
import { annotateDns, type LocalRuntime, loadEnvelope, localVerdicts } from './local-runtime.ts';

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

/** What a release did: `delivered`, `dropped`, `quarantined_again`, `already_released`, `failed_for_now`. */
export interface ReleaseResult {
  id: string;
  released: boolean;
  result: string;
  message: string;
  trace?: DecisionTrace | undefined;
}

/** The mail a quarantine entry kept, rebuilt to run again, and how to annotate its new trace. */
export type RebuildMail = (
  entry: QuarantineEntry,
) => Promise<{ mail: InboundMail; note: (trace: DecisionTrace) => DecisionTrace }>;

/**
 * Releases one entry: claims it (exactly one of two releases at once runs the mail), runs the mail
 * through the pipeline again, and puts the entry back as it was when the run fails for now.
 * Shared by `postdesk quarantine release` (local and AWS) and the local console.
 */
export const runRelease = async (
  desk: {
    deps: PipelineDeps;
    /** The object store the pipeline's state is on: in AWS the one that writes with the desk key. */
    store: ObjectStore;
  },
  id: string,
  rebuild: RebuildMail,
): Promise<ReleaseResult> => {
  const { deps, store } = desk;
  const { quarantine } = deps.state;
  const claim = await claimRelease(store, quarantine, id, systemClock);
  if (claim.kind === 'not_found') {
    throw new PermanentError('quarantine_not_found', `no quarantined mail with id ${id}`);
  }
  if (claim.kind === 'already_released') {
    return {
      id,
      released: false,
      result: 'already_released',
      message: `already released ${claim.entry.releasedAt ?? ''}; not run again (the first release ran it)`,
    };
  }
  const { entry } = claim;
  let trace: DecisionTrace;
  try {
    const { mail, note } = await rebuild(entry);
    trace = note(await processMail(mail, deps));
  } catch (error) {
    // Not delivered and not quarantined again: back as it was, releasable later.
    const why = `release at ${systemClock.now().toISOString()} failed for now: ${errorMessage(error)}`;
    await restoreEntry(quarantine, entry, why);
    if (!isTransient(error)) throw error;
    return {
      id,
      released: false,
      result: 'failed_for_now',
      message: `${errorMessage(error)}\nThe mail is back in quarantine; release it again later.`,
    };
  }
  if (trace.outcome === 'quarantined') {
    return {
      id,
      released: true,
      result: 'quarantined_again',
      message: `quarantined again (${trace.reason}): ${trace.message}\n\`postdesk quarantine show ${id}\` shows the new trace`,
      trace,
    };
  }
  return {
    id,
    released: true,
    result: trace.outcome === 'issue' || trace.outcome === 'note' ? 'delivered' : trace.outcome,
    message: summarise(trace),
    trace,
  };
};

/** The local desk's rebuild: the envelope kept beside the entry, verdicts computed again. */
export const localRebuild =
  (runtime: LocalRuntime, resolver: VerdictResolver | undefined): RebuildMail =>
  async (entry) => {
    const envelope = (await loadEnvelope(runtime.desk.store, entry.mailId)) ?? envelopeFromTrace(entry.trace);
    const { verdicts, dns } = await localVerdicts(
      join(runtime.desk.paths.mail, entry.rawKey),
      envelope,
      resolver,
      runtime.deps.config.limits,
    );
    return {
      mail: {
        id: entry.mailId,
        rawKey: entry.rawKey,
        envelope,
        verdicts,
        receivedAt: new Date(entry.trace.receivedAt),
      },
      note: (trace) => annotateDns(trace, dns),
    };
  };
