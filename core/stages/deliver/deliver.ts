import type { ParsedMail } from '../../model.ts';
import type { Forge, ForgeProjectRef } from '../../ports.ts';
import type { LedgerClaim, LedgerEntry, LedgerResult } from '../../state/ledger.ts';
import {
  MAX_PARTICIPANTS,
  normalizeMessageId,
  type Participant,
  participantsAddedBy,
} from '../../state/tickets.ts';
import type { DeliveryRecord } from '../../trace.ts';
import type { RouteTarget, StageContext, UploadPlan } from '../contracts.ts';
import { authorSender } from '../thread/sender.ts';
import { claimDelivery, underClaim } from './claim.ts';
import { deliveryMarker, withMarker } from './marker.ts';
import { DeliverReason } from './reasons.ts';
import { replaceUploadLinks, uploadAll } from './uploads.ts';

export interface DeliverInput {
  /** The pipeline's mail id (SES message id): with the project path, the delivery's identity. */
  mailId: string;
  mail: ParsedMail;
  target: RouteTarget;
  forge: Forge;
  /** Attachments uploaded at once. @default 6 (DEFAULT_UPLOAD_CONCURRENCY) */
  uploadConcurrency?: number | undefined;
  /** The ledger lease of this attempt (PipelineDeps.leaseMs). @default the ledger's (5 minutes) */
  leaseMs?: number | undefined;
}

/** What deliver reads from the mail's stage context: the ledger and the ticket store it writes. */
export type DeliverContext = Pick<StageContext, 'ledger' | 'tickets' | 'isDeskAddress'>;

/** deliverPlan's input: the delivery, and where an issue's and a note's differ. */
export interface DeliverPlanInput extends DeliverInput {
  kind: (forge: Forge, ref: ForgeProjectRef, marker: string) => DeliveryKind;
}

/** What an executor did for one routed project (a plan-only executor: what it would do). */
export interface Delivery {
  /** The trace's record of the route. */
  record: DeliveryRecord;
  /** The trace's `deliver` stage line. */
  stage: { verdict: string; reason: string; message?: string | undefined };
  /** The issue, or the note on it, that exists because of this mail; undefined when nothing was made. */
  made?: { kind: 'issue' | 'note'; issueIid: number; noteId?: number | undefined } | undefined;
  /** The participants this mail added to the ticket, on this attempt or an earlier one, in order. */
  participantsAdded: Participant[];
  /** The message ids recorded on the ticket for this mail (normalised: no angle brackets). */
  messageIds: string[];
}

/** An issue or note on the forge, as deliver knows it. */
export interface Made {
  issueIid: number;
  url?: string | undefined;
  noteId?: number | undefined;
  reopened?: boolean | undefined;
}

/**
 * Where delivering an issue and delivering a note differ (issue.ts, note.ts); deliverPlan runs the
 * protocol they share.
 */
export interface DeliveryKind {
  /** The ledger entry's kind and, for a note, the issue it goes on. */
  readonly claim: { kind: 'issue' | 'note'; issueIid?: number | undefined };
  /** The description or body, with `postdesk-upload://` links, and the attachments they name. */
  readonly text: string;
  readonly uploads: readonly UploadPlan[];
  /** False for an internal note: the ticket gains neither the sender nor the Cc. */
  readonly addsParticipants: boolean;
  /** The reason code when it is made now (not found by marker, not a duplicate). */
  readonly madeReason: DeliverReason;
  /** The issue or note a crashed earlier attempt made, found by its hidden marker. */
  find(claim: LedgerClaim): Promise<Made | undefined>;
  /** Makes the issue or note with the final text (uploads linked, marker appended). */
  make(text: string): Promise<Made>;
  /** What follows once it exists (a note may reopen its issue), with sentences for the trace. */
  after(made: Made): Promise<{ made: Made; notes: string[] }>;
  /** The sentence for an issue or note found by marker. */
  recovered(made: Made): string;
  ledgerResult(made: Made): LedgerResult;
  /** The route's record: the outcome and the issue or note as made. */
  record(text: string, made: Made): Pick<DeliveryRecord, 'outcome' | 'issue' | 'note'>;
  /** The record of a duplicate, from what the ledger remembers. */
  duplicate(entry: LedgerEntry): DeliveryRecord;
}

/** A sentence for the trace about Cc addresses GitLab's participant cap kept out (counted, never listed). */
export const aboveLimitMessage = (aboveLimit: readonly string[]): string | undefined =>
  aboveLimit.length === 0
    ? undefined
    : `${aboveLimit.length} Cc address${aboveLimit.length === 1 ? ' was' : 'es were'} not added as participant${
        aboveLimit.length === 1 ? '' : 's'
      }: a ticket has at most ${MAX_PARTICIPANTS}`;

/** A duplicate's record, from what the ledger remembers. */
export const duplicateRecord = (
  project: string,
  entry: LedgerEntry,
  issue: Omit<NonNullable<DeliveryRecord['issue']>, 'iid' | 'url'> | undefined,
  note: Omit<NonNullable<DeliveryRecord['note']>, 'id' | 'issueIid'> | undefined,
): DeliveryRecord => {
  const result = entry.result;
  const message = `already delivered (ledger entry completed ${entry.completedAt ?? 'earlier'}); nothing was sent again`;
  if (result?.kind === 'note') {
    return {
      project,
      outcome: 'note',
      reason: DeliverReason.duplicateDelivery,
      message,
      note: {
        ...(note ?? { body: '', internal: false, uploads: [] }),
        issueIid: result.issueIid,
        id: result.noteId,
        ...(result.reopened === undefined ? {} : { reopened: result.reopened }),
      },
    };
  }
  return {
    project,
    outcome: 'issue',
    reason: DeliverReason.duplicateDelivery,
    message,
    issue: {
      ...(issue ?? { title: '', description: '', labels: [], confidential: true, uploads: [] }),
      iid: result?.iid,
      url: result?.url,
    },
  };
};

const stageOf = (record: DeliveryRecord): Delivery['stage'] => ({
  verdict: record.outcome,
  reason: record.reason,
  ...(record.message ? { message: record.message } : {}),
});

const madeOf = (result: LedgerResult | undefined): Delivery['made'] => {
  if (result?.kind === 'issue') return { kind: 'issue', issueIid: result.iid };
  if (result?.kind === 'note') return { kind: 'note', issueIid: result.issueIid, noteId: result.noteId };
  return undefined;
};

/**
 * Deliver (DESIGN stage 7): exactly one issue or note per (mail, project), for either kind of plan.
 *
 * 1. Ledger entry `pending` with `If-None-Match: *` (claimDelivery): done -> the recorded result,
 *    `duplicate_delivery`; a live lease -> TransientError `delivery_in_progress`; an expired one ->
 *    taken over, then the hidden marker is searched and, when found, nothing is made again.
 * 2. Uploads, streamed, at most `uploadConcurrency` at once; their URLs replace the
 *    `postdesk-upload://<index>` link targets.
 * 3. createIssue or addNote, with the marker comment at the end of the text; a note may then
 *    reopen its closed issue.
 * 4. The ticket record (sender and Cc by policy, none for an internal note; the Message-ID) and
 *    the message-id index.
 * 5. The ledger entry `done`.
 *
 * Forge errors propagate unchanged: TransientError -> the queue retries; PermanentError -> the
 * caller quarantines.
 *
 * The executor's step rather than a decision: it returns what it did (a Delivery, the trace's
 * record), not a StageResult, since every ending was decided before it (core/plan.ts).
 */
export const deliverPlan = async (input: DeliverPlanInput, context: DeliverContext): Promise<Delivery> => {
  const { mail, forge } = input;
  const { ledger, tickets, isDeskAddress } = context;
  const project = input.target.project;
  const ref = { path: project.path };
  const marker = deliveryMarker(input.mailId, project.path);
  const kind = input.kind(forge, ref, marker);
  const messageIds = mail.messageId === undefined ? [] : [normalizeMessageId(mail.messageId)];

  const claimed = await claimDelivery(ledger, {
    mailId: input.mailId,
    projectKey: project.key,
    projectPath: project.path,
    ...kind.claim,
    marker,
    ...(input.leaseMs === undefined ? {} : { leaseMs: input.leaseMs }),
  });
  if (claimed.kind === 'duplicate') {
    const record = kind.duplicate(claimed.entry);
    const made = madeOf(claimed.entry.result);
    const ticket = made ? await tickets.get(project.path, made.issueIid) : undefined;
    return {
      record,
      stage: stageOf(record),
      made,
      participantsAdded: ticket ? participantsAddedBy(ticket, input.mailId) : [],
      messageIds,
    };
  }

  return underClaim(ledger, claimed.claim, async (progress) => {
    let text = kind.text;
    let found = claimed.recovering ? await kind.find(claimed.claim) : undefined;
    const recovered = found !== undefined;
    if (!found) {
      const uploads = await uploadAll(forge, ref, kind.uploads, input.uploadConcurrency);
      text = withMarker(replaceUploadLinks(kind.text, uploads), marker);
      progress.mutationStarted = true;
      found = await kind.make(text);
    }
    progress.mutated = true;
    const { made, notes } = await kind.after(found);

    const adds = kind.addsParticipants;
    const change = await tickets.recordInbound({
      projectPath: project.path,
      iid: made.issueIid,
      mailId: input.mailId,
      messageId: mail.messageId,
      // The sender identity (From), never Reply-To or Sender: only it is ever mailed the team's answers.
      sender: adds ? authorSender(mail, isDeskAddress) : undefined,
      cc: adds ? mail.cc : [],
      participantsFromCc: project.participants_from_cc,
      isDeskAddress,
    });
    const result = kind.ledgerResult(made);
    await ledger.complete(claimed.claim, result);

    const messages = [
      recovered ? kind.recovered(made) : undefined,
      ...notes,
      aboveLimitMessage(change.aboveLimit),
    ];
    const message = messages.filter((text): text is string => text !== undefined).join('; ');
    const { outcome, ...summary } = kind.record(text, made);
    const record: DeliveryRecord = {
      project: project.path,
      outcome,
      reason: recovered ? DeliverReason.recoveredByMarker : kind.madeReason,
      ...(message === '' ? {} : { message }),
      ...summary,
    };
    return {
      record,
      stage: stageOf(record),
      made: madeOf(result),
      participantsAdded: change.addedByMail,
      messageIds,
    };
  });
};
