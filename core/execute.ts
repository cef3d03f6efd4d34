import type { ParsedMail } from './model.ts';
import type { DecideView } from './plan.ts';
import type { Forge } from './ports.ts';
import type { DeliverablePlan, RouteTarget, StageContext } from './stages/contracts.ts';
import {
  type Delivery,
  deliverPlan,
  issueDelivery,
  noteDelivery,
  uploadSummaries,
} from './stages/deliver/index.ts';
import { limitInbound } from './stages/limit/index.ts';
import type { QuarantineInput } from './state/quarantine.ts';
import type { DeliveryRecord } from './trace.ts';

/**
 * Executors: what carries out the plans core/plan.ts decides. The pipeline runs the same way
 * whichever it is given; a dry run is the plan-only executor, not a flag. Both work on the mail's
 * stage context (its ledger, tickets, rate limiter and quarantine), never on stores of their own.
 *
 * - deliveringExecutor: claims, uploads, creates the issue or adds the note, records the ticket,
 *   completes the ledger (core/stages/deliver/deliver.ts), counts rate limits and keeps quarantined
 *   mail.
 * - planOnlyExecutor (`postdesk explain`): writes nothing and calls no forge; reports each plan as
 *   what it would make, and a rate limit only when it would stop the mail.
 */

export interface ExecuteInput {
  /** The pipeline's mail id: with the project path, the delivery's identity. */
  mailId: string;
  mail: ParsedMail;
  target: RouteTarget;
}

export interface Executor {
  /** True when it writes nothing and calls no forge; the trace's `dryRun`. */
  readonly dryRun: boolean;
  /** What decide reads through this executor: rate limits and repository files. */
  readonly view: DecideView;
  /** Carries out one routed project's issue or note plan, and says what it did. */
  execute(plan: DeliverablePlan, input: ExecuteInput, context: StageContext): Promise<Delivery>;
  /** Keeps a quarantined mail with its trace (`postdesk quarantine`). */
  quarantine(entry: QuarantineInput, context: StageContext): Promise<void>;
}

export interface DeliveringExecutorDeps {
  forge: Forge;
  /** The ledger lease of this attempt (PipelineDeps.leaseMs). @default the ledger's (5 minutes) */
  leaseMs?: number | undefined;
}

export const deliveringExecutor = (deps: DeliveringExecutorDeps): Executor => ({
  dryRun: false,
  view: {
    limit: (input, context) => limitInbound(input, context),
    repoFile: (project, path) => deps.forge.readRepoFile({ path: project.path }, path),
  },
  execute: (plan, input, context) => {
    const project = input.target.project.path;
    const kind = plan.kind === 'issue' ? issueDelivery(plan, project) : noteDelivery(plan, project);
    return deliverPlan({ ...input, forge: deps.forge, leaseMs: deps.leaseMs, kind }, context);
  },
  quarantine: async (entry, context) => {
    await context.quarantine.put(entry);
  },
});

const NOT_DELIVERED = 'explain writes nothing and calls no forge';

/** What a plan would make, as the trace shows it: no iid, no URL, links not yet uploaded. */
const plannedRecord = (plan: DeliverablePlan, project: string): DeliveryRecord => {
  const uploads = uploadSummaries(plan.draft.uploads);
  if (plan.kind === 'issue') {
    const { title, description, labels, confidential } = plan.draft;
    return {
      project,
      outcome: 'issue',
      reason: 'new_ticket',
      issue: { title, description, labels, confidential, uploads },
    };
  }
  return {
    project,
    outcome: 'note',
    reason: plan.via,
    note: { issueIid: plan.issueIid, body: plan.draft.body, internal: plan.internal, uploads },
  };
};

/**
 * The dry run (`postdesk explain`): every plan is reported, none carried out; nothing is written
 * and no forge is called (a repository template is not read). The state of the mail's context is
 * only read: the rate limits are looked at without counting, and reported only when one would
 * stop the mail.
 */
export const planOnlyExecutor = (): Executor => ({
  dryRun: true,
  view: {
    limit: async (input, context) => {
      const result = await limitInbound({ ...input, readOnly: true }, context);
      return result.ok ? undefined : result;
    },
    repoFile: async () => undefined,
  },
  execute: async (plan, input) => ({
    record: plannedRecord(plan, input.target.project.path),
    stage: { verdict: 'skipped', reason: 'dry_run', message: NOT_DELIVERED },
    participantsAdded: [],
    messageIds: [],
  }),
  quarantine: async () => undefined,
});
