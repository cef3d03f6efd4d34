import type { ParsedMail } from '../../model.ts';
import type { Clock, Forge, ForgeIssue, ObjectStore } from '../../ports.ts';
import { createLedger, type LedgerEntry } from '../../state/ledger.ts';
import { createTicketStore, MAX_PARTICIPANTS } from '../../state/tickets.ts';
import type { DeliveryRecord } from '../../trace.ts';
import type { IssueDraft, RouteTarget } from '../contracts.ts';
import { authorSender, replySender } from '../thread/sender.ts';
import { claimDelivery, underClaim } from './claim.ts';
import { deliveryMarker, withMarker } from './marker.ts';
import { DeliverReason } from './reasons.ts';
import { replaceUploadLinks, uploadAll, uploadSummaries } from './uploads.ts';

export interface DeliverIssueInput {
  /** The pipeline's mail id (SES message id): with the project path, the delivery's identity. */
  mailId: string;
  mail: ParsedMail;
  target: RouteTarget;
  draft: IssueDraft;
  forge: Forge;
  store: ObjectStore;
  clock: Clock;
  isDeskAddress: (address: string) => boolean;
  /** Attachments uploaded at once. @default 4 */
  uploadConcurrency?: number | undefined;
  /** The ledger lease. @default 5 minutes */
  leaseMs?: number | undefined;
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

/**
 * Deliver (DESIGN stage 7) for a new ticket: exactly one issue per (mail, project).
 *
 * 1. Ledger entry `pending` with `If-None-Match: *` (claimDelivery): done -> the recorded result,
 *    `duplicate_delivery`; a live lease -> TransientError `delivery_in_progress`; an expired one ->
 *    taken over, then the hidden marker is searched and, when found, nothing is created.
 * 2. Uploads, streamed, at most `uploadConcurrency` at once; their URLs replace the
 *    `postdesk-upload://<index>` link targets.
 * 3. createIssue, with the marker comment at the end of the description.
 * 4. The ticket record (sender, Cc by policy, Message-ID) and the message-id index.
 * 5. The ledger entry `done`.
 *
 * Forge errors propagate unchanged: TransientError -> the queue retries; PermanentError -> the
 * caller quarantines.
 */
export const deliverIssue = async (input: DeliverIssueInput): Promise<DeliveryRecord> => {
  const { mail, target, draft, forge } = input;
  const project = target.project;
  const ref = { path: project.path };
  const ledger = createLedger(input.store, {
    clock: input.clock,
    ...(input.leaseMs === undefined ? {} : { leaseMs: input.leaseMs }),
  });
  const tickets = createTicketStore(input.store, { clock: input.clock });
  const marker = deliveryMarker(input.mailId, project.path);
  const uploads = uploadSummaries(draft.uploads);

  const claimed = await claimDelivery(ledger, {
    mailId: input.mailId,
    projectKey: project.key,
    projectPath: project.path,
    kind: 'issue',
    marker,
  });
  if (claimed.kind === 'duplicate') {
    const { title, description, labels, confidential } = draft;
    return duplicateRecord(
      project.path,
      claimed.entry,
      { title, description, labels, confidential, uploads },
      undefined,
    );
  }

  return underClaim(ledger, claimed.claim, async (progress) => {
    let issue: ForgeIssue | undefined;
    let description = draft.description;
    if (claimed.recovering) issue = await forge.findIssueByMarker(ref, marker);
    const recovered = issue !== undefined;
    if (!issue) {
      const made = await uploadAll(forge, ref, draft.uploads, input.uploadConcurrency);
      description = withMarker(replaceUploadLinks(draft.description, made), marker);
      progress.mutationStarted = true;
      issue = await forge.createIssue(ref, {
        title: draft.title,
        description,
        labels: draft.labels,
        confidential: draft.confidential,
      });
    }
    progress.mutated = true;

    const change = await tickets.recordInbound({
      projectPath: project.path,
      iid: issue.iid,
      mailId: input.mailId,
      messageId: mail.messageId,
      sender: replySender(mail, input.isDeskAddress),
      author: authorSender(mail, input.isDeskAddress),
      cc: mail.cc,
      participantsFromCc: project.participants_from_cc,
      isDeskAddress: input.isDeskAddress,
    });
    await ledger.complete(claimed.claim, { kind: 'issue', iid: issue.iid, url: issue.webUrl });

    const notes = [
      recovered
        ? `issue #${issue.iid} was made by an earlier attempt; found by its marker, not created again`
        : undefined,
      aboveLimitMessage(change.aboveLimit),
    ].filter((text): text is string => text !== undefined);
    return {
      project: project.path,
      outcome: 'issue',
      reason: recovered ? DeliverReason.recoveredByMarker : DeliverReason.issueCreated,
      ...(notes.length > 0 ? { message: notes.join('; ') } : {}),
      issue: {
        iid: issue.iid,
        url: issue.webUrl,
        title: draft.title,
        description,
        labels: draft.labels,
        confidential: draft.confidential,
        uploads,
      },
    };
  });
};
