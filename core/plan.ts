import type { AuthenticationPolicy, ProjectConfig } from './config/schema.ts';
import type { AttachmentMeta, InboundMail, ParsedMail } from './model.ts';
import type { DeskSecret } from './ports.ts';
import { requireDmarcOnIdentity } from './stages/authenticate/dmarc-identity.ts';
import { authenticateMail } from './stages/authenticate/index.ts';
import { requireSenderIdentity } from './stages/authenticate/sender-identity.ts';
import type { Classification, EndingPlan, Plan, RouteTarget, StageContext } from './stages/contracts.ts';
import { notePlan } from './stages/deliver/index.ts';
import type { LimitInput, LimitPass } from './stages/limit/index.ts';
import { renderIssueStage, renderNoteStage } from './stages/render/index.ts';
import { threadStage } from './stages/thread/index.ts';
import type { StageName, StageResult } from './trace.ts';

/**
 * The decision for one routed project: policy -> thread -> limit -> render, composed from the
 * stage functions, ending in a Plan (an issue to make, a note to add, or the route's ending). It
 * makes nothing: an executor (core/execute.ts) carries the plan out, or, for `postdesk explain`,
 * only reports it. Every stage gets the mail's one stage context (core/stages/contracts.ts); what
 * decide reads beyond the ticket store it reads through the executor's view, so a plan-only
 * executor can keep it from counting rate limits or calling the forge.
 */

/** The mail as decide sees it. */
export interface MailToDecide {
  inbound: InboundMail;
  parsed: ParsedMail;
  classification: Classification;
}

/** What decide reads through the executor that will carry out its plan. */
export interface DecideView {
  /**
   * The rate limits (config.rate_limits) for the mail after threading. A delivering executor counts
   * the mail; a plan-only one only looks, and answers only when a limit would stop the mail (so
   * explain's trace shows the limit stage only then). Undefined: nothing to report.
   */
  limit(input: LimitInput, context: StageContext): Promise<StageResult<LimitPass> | undefined>;
  /** A file of the project's repository (a description template); undefined when it is not read here. */
  repoFile(project: ProjectConfig, path: string): Promise<string | undefined>;
}

/** Runs one stage for the project and records it in the trace; an undefined result is not recorded. */
export type StageRunner = <R extends StageResult<unknown> | undefined>(
  name: StageName,
  run: () => Promise<R>,
) => Promise<R>;

/** The mail's stage context, with what decide adds for the project it runs for. */
export interface DecideContext extends StageContext {
  replyKey: DeskSecret['reply_key'];
  /** The raw mail as an attachment, uploaded only when render must truncate a body. */
  original: AttachmentMeta;
  view: DecideView;
  stage: StageRunner;
}

const ending = (result: Extract<StageResult<unknown>, { ok: false }>): EndingPlan => ({
  kind: 'ending',
  outcome: result.outcome,
  reason: result.reason,
  message: result.message,
});

export const decide = async (
  mail: MailToDecide,
  target: RouteTarget,
  context: DecideContext,
): Promise<Plan> => {
  const { inbound, parsed, classification } = mail;
  const { config, stage } = context;
  const project = target.project;

  const { policy, notEvaluated } = effectivePolicy(
    project.authentication ?? config.authentication,
    inbound.verdicts.source,
  );
  const auth = await stage('policy', async () => {
    // One author or none: the mailbox DMARC evaluated, never Sender or Reply-To standing in, and a
    // DMARC verdict about another domain vouches for nobody.
    const author = requireSenderIdentity(parsed);
    if (!author.ok) return author;
    const mismatch = requireDmarcOnIdentity(author.value, inbound.verdicts);
    if (mismatch) return mismatch;
    const result = authenticateMail(parsed, inbound.verdicts, policy);
    if (!result.ok || notEvaluated.length === 0) return result;
    return { ...result, detail: { ...result.detail, notEvaluated, verdictSource: inbound.verdicts.source } };
  });
  if (!auth.ok) return ending(auth);
  const extraLabels = auth.value.failed.length > 0 && policy.on_fail === 'label' ? [policy.fail_label] : [];

  const threaded = await stage('thread', () =>
    threadStage({ mail: parsed, target, classification, replyKey: context.replyKey }, context),
  );
  if (!threaded.ok) return ending(threaded);
  const thread = threaded.value;

  // Floods: sliding windows per ticket, per sender and per desk.
  const limited = await stage('limit', () =>
    context.view.limit(
      {
        mailId: inbound.id,
        mail: parsed,
        classification,
        project,
        thread,
        rateLimits: config.rate_limits,
        isDeskAddress: context.isDeskAddress,
      },
      context,
    ),
  );
  if (limited && !limited.ok) return ending(limited);

  if (thread.kind === 'new_ticket') {
    const template = await resolveTemplate(project, context.view);
    const draft = await stage('render', () =>
      renderIssueStage({ mail: parsed, project, template, extraLabels, original: context.original }, context),
    );
    return draft.ok ? { kind: 'issue', draft: draft.value } : ending(draft);
  }

  const note = await stage('render', () =>
    renderNoteStage(
      {
        mail: parsed,
        project,
        internal: thread.internal,
        automated: classification.kind !== 'human',
        original: context.original,
      },
      context,
    ),
  );
  return note.ok ? notePlan(thread, note.value) : ending(note);
};

/**
 * The policy a mail can actually be held to. SES mail (`source: 'ses'`) is held to all of it. The
 * local desk has no spam or virus scanner, so those requirements are not evaluated there; a bare
 * file (`explain`, `ingest`) has no receipt at all, so none are. Either way the trace says which
 * requirements were not evaluated, instead of quarantining every local mail as "unverified".
 */
export const effectivePolicy = (
  policy: AuthenticationPolicy,
  source: InboundMail['verdicts']['source'],
): { policy: AuthenticationPolicy; notEvaluated: string[] } => {
  if (source === 'ses') return { policy, notEvaluated: [] };
  const unavailable = source === 'local' ? new Set(['spam', 'virus']) : new Set(policy.require);
  return {
    policy: { ...policy, require: policy.require.filter((name) => !unavailable.has(name)) },
    notEvaluated: policy.require.filter((name) => unavailable.has(name)),
  };
};

/** The project's description template: inline text, or a file read from the repo through the view. */
const resolveTemplate = async (project: ProjectConfig, view: DecideView): Promise<string | undefined> => {
  if (!project.template) return undefined;
  if ('inline' in project.template) return project.template.inline;
  return view.repoFile(project, project.template.path);
};
