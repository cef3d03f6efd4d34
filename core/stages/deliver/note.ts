import type { Forge, ForgeNote, ForgeProjectRef } from '../../ports.ts';
import { createLedger } from '../../state/ledger.ts';
import { createTicketStore } from '../../state/tickets.ts';
import type { DeliveryRecord } from '../../trace.ts';
import type { NoteDraft, ThreadDecision } from '../contracts.ts';
import { authorSender, replySender } from '../thread/sender.ts';
import { claimDelivery, underClaim } from './claim.ts';
import { aboveLimitMessage, type DeliverIssueInput, duplicateRecord } from './issue.ts';
import { deliveryMarker, withMarker } from './marker.ts';
import { DeliverReason } from './reasons.ts';
import { replaceUploadLinks, uploadAll, uploadSummaries } from './uploads.ts';

export interface DeliverNoteInput extends Omit<DeliverIssueInput, 'draft'> {
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
 * Deliver for a reply: exactly one note per (mail, project), by the same ledger and marker protocol
 * as deliverIssue. Then, for a participant's (non-internal) reply, the ticket record gains the
 * Message-ID and the sender and Cc if new; a stranger's or an automated mail's internal note adds
 * nobody. Reopen when the decision says so and the issue is closed.
 */
export const deliverNote = async (input: DeliverNoteInput): Promise<DeliveryRecord> => {
  const { mail, target, draft, forge, decision } = input;
  const project = target.project;
  const ref = { path: project.path };
  const ledger = createLedger(input.store, {
    clock: input.clock,
    ...(input.leaseMs === undefined ? {} : { leaseMs: input.leaseMs }),
  });
  const tickets = createTicketStore(input.store, { clock: input.clock });
  const marker = deliveryMarker(input.mailId, project.path);
  const uploads = uploadSummaries(draft.uploads);
  const internal = draft.internal || decision.internal;

  const claimed = await claimDelivery(ledger, {
    mailId: input.mailId,
    projectKey: project.key,
    projectPath: project.path,
    kind: 'note',
    issueIid: decision.issueIid,
    marker,
  });
  if (claimed.kind === 'duplicate') {
    return duplicateRecord(project.path, claimed.entry, undefined, { body: draft.body, internal, uploads });
  }

  return underClaim(ledger, claimed.claim, async (progress) => {
    // A crashed attempt searched on the issue it was delivering to, which the ledger remembers.
    let issueIid = decision.issueIid;
    let note: ForgeNote | undefined;
    let body = draft.body;
    if (claimed.recovering) {
      const earlierIid = claimed.claim.entry.issueIid ?? decision.issueIid;
      note = await forge.findNoteByMarker(ref, earlierIid, marker);
      if (note) issueIid = earlierIid;
    }
    const recovered = note !== undefined;
    if (!note) {
      const made = await uploadAll(forge, ref, draft.uploads, input.uploadConcurrency);
      body = withMarker(replaceUploadLinks(draft.body, made), marker);
      progress.mutationStarted = true;
      note = await forge.addNote(ref, issueIid, { body, internal });
    }
    progress.mutated = true;

    const reopened = decision.reopen && !internal ? await reopenIfClosed(forge, ref, issueIid) : false;

    const change = await tickets.recordInbound({
      projectPath: project.path,
      iid: issueIid,
      mailId: input.mailId,
      messageId: mail.messageId,
      sender: internal ? undefined : replySender(mail, input.isDeskAddress),
      author: internal ? undefined : authorSender(mail, input.isDeskAddress),
      cc: internal ? [] : mail.cc,
      participantsFromCc: project.participants_from_cc,
      isDeskAddress: input.isDeskAddress,
    });
    await ledger.complete(claimed.claim, { kind: 'note', issueIid, noteId: note.id, reopened });

    const notes = [
      recovered
        ? `the note was added by an earlier attempt; found by its marker, not added again`
        : undefined,
      reopened ? `issue #${issueIid} was closed and has been reopened` : undefined,
      aboveLimitMessage(change.aboveLimit),
    ].filter((text): text is string => text !== undefined);
    return {
      project: project.path,
      outcome: 'note',
      reason: recovered ? DeliverReason.recoveredByMarker : DeliverReason.noteAdded,
      ...(notes.length > 0 ? { message: notes.join('; ') } : {}),
      note: { issueIid, id: note.id, body, internal, uploads, reopened },
    };
  });
};
