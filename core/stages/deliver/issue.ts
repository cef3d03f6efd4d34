import type { Forge, ForgeIssue, ForgeProjectRef } from '../../ports.ts';
import type { DeliveryRecord } from '../../trace.ts';
import type { IssueDraft, IssuePlan } from '../contracts.ts';
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

export interface DeliverIssueInput extends DeliverInput {
  draft: IssueDraft;
}

const madeIssue = (issue: ForgeIssue): Made => ({ issueIid: issue.iid, url: issue.webUrl });

/** A new ticket's delivery: createIssue, found again by `findIssueByMarker` after a crash. */
export const issueDelivery =
  (plan: IssuePlan, project: string) =>
  (forge: Forge, ref: ForgeProjectRef, marker: string): DeliveryKind => {
    const { draft } = plan;
    const uploads = uploadSummaries(draft.uploads);
    const summary = (description: string) => ({
      title: draft.title,
      description,
      labels: draft.labels,
      confidential: draft.confidential,
      uploads,
    });
    return {
      claim: { kind: 'issue' },
      text: draft.description,
      uploads: draft.uploads,
      addsParticipants: true,
      madeReason: DeliverReason.issueCreated,
      async find() {
        const issue = await forge.findIssueByMarker(ref, marker);
        return issue ? madeIssue(issue) : undefined;
      },
      async make(description) {
        const { title, labels, confidential } = draft;
        return madeIssue(await forge.createIssue(ref, { title, description, labels, confidential }));
      },
      after: async (made) => ({ made, notes: [] }),
      recovered: (made) =>
        `issue #${made.issueIid} was made by an earlier attempt; found by its marker, not created again`,
      ledgerResult: (made) => ({ kind: 'issue', iid: made.issueIid, url: made.url ?? '' }),
      record: (description, made): Pick<DeliveryRecord, 'outcome' | 'issue'> => ({
        outcome: 'issue',
        issue: { iid: made.issueIid, url: made.url, ...summary(description) },
      }),
      duplicate: (entry) => duplicateRecord(project, entry, summary(draft.description), undefined),
    };
  };

/**
 * Deliver for a new ticket: exactly one issue per (mail, project), by deliverPlan's ledger and
 * marker protocol. Returns the route's record.
 */
export const deliverIssue = async (
  input: DeliverIssueInput,
  context: DeliverContext,
): Promise<DeliveryRecord> =>
  (
    await deliverPlan(
      { ...input, kind: issueDelivery({ kind: 'issue', draft: input.draft }, input.target.project.path) },
      context,
    )
  ).record;
