import { TransientError } from '../../errors.ts';
import type { Ledger, LedgerBeginInput, LedgerClaim, LedgerEntry } from '../../state/ledger.ts';
import { DeliverReason } from './reasons.ts';

export type DeliveryClaim =
  /** Delivered before: report the ledger's result, call nothing. */
  | { kind: 'duplicate'; entry: LedgerEntry }
  /** This worker holds the lease. `recovering`: an earlier attempt crashed, search for its marker first. */
  | { kind: 'claimed'; claim: LedgerClaim; recovering: boolean };

const inProgress = (entry: LedgerEntry, retryAfterMs: number): TransientError =>
  new TransientError(
    DeliverReason.deliveryInProgress,
    `mail ${entry.mailId} is being delivered to ${entry.projectPath} by another worker ` +
      `(attempt ${entry.attempt}, started ${entry.startedAt}); retry once its lease expires`,
    { retryAfterMs },
  );

/**
 * The ledger step before any forge call: exactly one worker proceeds per (mail, project). A live
 * lease held by someone else is a TransientError (the queue retries later); an expired one is taken
 * over by compare-and-swap, so of two workers that find it stale only one proceeds.
 */
export const claimDelivery = async (ledger: Ledger, input: LedgerBeginInput): Promise<DeliveryClaim> => {
  const begun = await ledger.begin(input);
  switch (begun.state) {
    case 'acquired':
      return { kind: 'claimed', claim: begun.claim, recovering: false };
    case 'done':
      return { kind: 'duplicate', entry: begun.entry };
    case 'in_progress':
      throw inProgress(begun.entry, begun.retryAfterMs);
    case 'stale': {
      const claim = await ledger.takeOver(begun, { leaseMs: input.leaseMs });
      if (!claim) throw inProgress(begun.entry, input.leaseMs ?? ledger.leaseMs);
      return { kind: 'claimed', claim, recovering: true };
    }
  }
};

/**
 * Runs the forge work under a claim. When it fails, the lease is released at once if it is certain
 * what the forge did: nothing yet (`mutationStarted` false), or the mutation succeeded (`mutated`
 * true; the retry finds it by marker). When the mutating call itself failed (a timeout, say) the
 * forge may still have done it, so the lease is kept until it expires, giving the forge time to
 * finish and its search index time to show the marker.
 */
export const underClaim = async <T>(
  ledger: Ledger,
  claim: LedgerClaim,
  work: (progress: { mutationStarted: boolean; mutated: boolean }) => Promise<T>,
): Promise<T> => {
  const progress = { mutationStarted: false, mutated: false };
  try {
    return await work(progress);
  } catch (error) {
    if (!progress.mutationStarted || progress.mutated) await ledger.release(claim).catch(() => undefined);
    throw error;
  }
};
