import type { Forge, ForgeNote, ForgeProjectRef } from '../../ports.ts';
import type { DeliveryRecord } from '../../trace.ts';
import type { NoteDraft, NotePlan, ThreadDecision } from '../contracts.ts';
import {
  type DeliverContext,
  type DeliverInput,
  type DeliveryKind,
  deliverPlan,
  duplicateRecord,
  type Made,
} from './deliver.ts';
import { DeliverReason } from './reasons.ts';
import { uploadSummaries } from './uploads.ts';

export interface DeliverNoteInput extends DeliverInput {
  decision: Extract<ThreadDecision, { kind: 'reply' }>;
  draft: NoteDraft;
}

/** GitLab's text (`BaseHandler#reopen_issue_on_external_participant_note`), without the `/reopen` we do by API. */
export const reopenNoteBody = (assignees: readonly string[]): string => {
  const mentions = assignees.map((username) => `@${username.replace(/^@/, '')}`).join(' ');
  const text =
    ':wave: This issue has been reopened because it received a new comment from an external participant.';
  return mentions === '' ? text : `${mentions} ${text}`;
};

/**
 * Reopens a closed issue after an external participant's note, and tells the assignees in an
 * internal note (mentions create to-dos), as GitLab does. Returns whether it reopened. Safe to run
 * again: an open issue is left alone.
 */
const reopenIfClosed = async (forge: Forge, ref: ForgeProjectRef, issueIid: number): Promise<boolean> => {
  const issue = await forge.getIssue(ref, issueIid);
  if (issue?.state !== 'closed') return false;
  await forge.reopenIssue(ref, issueIid);
  await forge.addNote(ref, issueIid, { body: reopenNoteBody(issue.assignees), internal: true });
  return true;
};

/**
 * A reply's delivery: addNote on the issue thread found, found again by `findNoteByMarker` after a
 * crash. A participant's (non-internal) note adds the sender and Cc to the ticket and reopens the
 * issue when the plan says so and it is closed; an internal note (a stranger's, an automated mail's)
 * adds nobody and reopens nothing.
 */
export const noteDelivery =
  (plan: NotePlan, project: string) =>
  (forge: Forge, ref: ForgeProjectRef, marker: string): DeliveryKind => {
    const { draft, internal } = plan;
    const uploads = uploadSummaries(draft.uploads);
    const madeNote = (issueIid: number, note: ForgeNote): Made => ({ issueIid, noteId: note.id });
    return {
      claim: { kind: 'note', issueIid: plan.issueIid },
      text: draft.body,
      uploads: draft.uploads,
      addsParticipants: !internal,
      madeReason: DeliverReason.noteAdded,
      async find(claim) {
        // A crashed attempt searched on the issue it was delivering to, which the ledger remembers.
        const earlierIid = claim.entry.issueIid ?? plan.issueIid;
        const note = await forge.findNoteByMarker(ref, earlierIid, marker);
        return note ? madeNote(earlierIid, note) : undefined;
      },
      make: async (body) =>
        madeNote(plan.issueIid, await forge.addNote(ref, plan.issueIid, { body, internal })),
      async after(made) {
        const reopened = plan.reopen && !internal ? await reopenIfClosed(forge, ref, made.issueIid) : false;
        return {
          made: { ...made, reopened },
          notes: reopened ? [`issue #${made.issueIid} was closed and has been reopened`] : [],
        };
      },
      recovered: () => 'the note was added by an earlier attempt; found by its marker, not added again',
      ledgerResult: (made) => ({
        kind: 'note',
        issueIid: made.issueIid,
        noteId: made.noteId ?? 0,
        reopened: made.reopened ?? false,
      }),
      record: (body, made): Pick<DeliveryRecord, 'outcome' | 'note'> => ({
        outcome: 'note',
        note: { issueIid: made.issueIid, id: made.noteId, body, internal, uploads, reopened: made.reopened },
      }),
      duplicate: (entry) =>
        duplicateRecord(project, entry, undefined, { body: draft.body, internal, uploads }),
    };
  };

/** The note plan for a reply decision and its draft. */
export const notePlan = (
  decision: Extract<ThreadDecision, { kind: 'reply' }>,
  draft: NoteDraft,
): NotePlan => ({
  kind: 'note',
  issueIid: decision.issueIid,
  via: decision.via,
  draft,
  internal: draft.internal || decision.internal,
  reopen: decision.reopen,
});

/**
 * Deliver for a reply: exactly one note per (mail, project), by deliverPlan's ledger and marker
 * protocol. Returns the route's record.
 */
export const deliverNote = async (
  input: DeliverNoteInput,
  context: DeliverContext,
): Promise<DeliveryRecord> =>
  (
    await deliverPlan(
      { ...input, kind: noteDelivery(notePlan(input.decision, input.draft), input.target.project.path) },
      context,
    )
  ).record;
