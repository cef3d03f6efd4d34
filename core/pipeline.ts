import type { DeskConfig, ProjectConfig } from './config/schema.ts';
import { deskAddressMatcher } from './desk-addresses.ts';
import { errorMessage, isTransient, PermanentError } from './errors.ts';
import { deliveringExecutor, type Executor } from './execute.ts';
import type { AttachmentMeta, InboundMail, ParsedMail } from './model.ts';
import { type DecideContext, decide, type MailToDecide } from './plan.ts';
import type { Clock, Forge, Logger, RawMailStore, SecretSource } from './ports.ts';
import { authenticateStage } from './stages/authenticate/index.ts';
import { classifyStage } from './stages/classify/index.ts';
import type { Classification, EndingPlan, RouteTarget, StageContext } from './stages/contracts.ts';
import type { Delivery } from './stages/deliver/index.ts';
import { parseStage } from './stages/parse/index.ts';
import { routeStage } from './stages/route/index.ts';
import type { DeskState } from './state/index.ts';
import type { DecisionTrace, DeliveryRecord } from './trace.ts';
import { TraceRecorder } from './trace-recorder.ts';

export { effectivePolicy } from './plan.ts';

/** Everything the pipeline needs from outside, built once per cold start (or per CLI process). */
export interface PipelineDeps {
  config: DeskConfig;
  rawStore: RawMailStore;
  /**
   * The desk's state behind its ports (core/state/index.ts): ledger, tickets and the message-id
   * index, quarantine, rate counters. Built on the same clock as `clock`
   * (`objectStoreState(store, { clock })`, or `dynamoState`).
   */
  state: DeskState;
  forge: Forge;
  secrets: SecretSource;
  /** The desk's clock, the one `state` was built on; core/ never reads the wall clock itself. */
  clock: Clock;
  logger: Logger;
  /**
   * How long this attempt at the mail may still run, ms: the ledger lease its deliveries claim, so
   * a retry never takes over from an attempt that is still alive. The inbound function passes its
   * invocation's remaining time plus a margin. @default the ledger's DEFAULT_LEASE_MS (5 minutes)
   */
  leaseMs?: number | undefined;
  /**
   * What carries out each project's plan (core/execute.ts); `postdesk explain` passes the
   * plan-only executor. @default deliveringExecutor over `forge` and `leaseMs`
   */
  executor?: Executor | undefined;
  /** Called after each delivery that made (or had made) an issue or a note; outbound notifications hook here. */
  onDelivered?: ((event: DeliveredEvent) => Promise<void>) | undefined;
}

export interface DeliveredEvent {
  mail: InboundMail;
  parsed: ParsedMail;
  classification: Classification;
  target: RouteTarget;
  /** What the delivery did: its record, what it made, the participants it added. */
  delivery: Delivery;
}

/**
 * Runs one mail through load -> parse -> authenticate -> classify -> route, then, for every routed
 * project, decides a plan (core/plan.ts: policy -> thread -> limit -> render) and has the executor
 * carry it out (core/execute.ts: deliver), and returns the decision trace.
 *
 * Failure semantics: a TransientError propagates (the queue retries the mail; deliveries already
 * done are skipped by the ledger). Any other error — a PermanentError from the forge, or a bug —
 * quarantines the mail with its trace so it is never retried forever and never lost.
 */
export const processMail = async (mail: InboundMail, deps: PipelineDeps): Promise<DecisionTrace> => {
  const executor = deps.executor ?? deliveringExecutor(deps);
  const run = new TraceRecorder(mail, executor);
  const context = stageContext(deps);
  try {
    await runStages(mail, deps, context, executor, run);
  } catch (error) {
    if (isTransient(error)) {
      deps.logger.warn('transient failure; the mail will be retried', {
        mailId: mail.id,
        code: error.code,
        error: error.message,
        stages: run.stages,
      });
      throw error;
    }
    const code = error instanceof PermanentError ? error.code : 'internal_error';
    run.end({ outcome: 'quarantined', reason: code, message: errorMessage(error) });
  }
  const trace = run.finish();
  if (trace.outcome === 'quarantined') {
    await executor.quarantine(
      {
        mailId: mail.id,
        rawKey: mail.rawKey,
        reason: trace.reason,
        message: trace.message,
        trace,
        createdAt: deps.clock.now().toISOString(),
      },
      context,
    );
  }
  deps.logger.info('decision', { trace });
  return trace;
};

/**
 * The one stage context of a mail: every stage, decide and the executor get this object, so all
 * of them work on the same state ports and the same clock.
 */
export const stageContext = (deps: Pick<PipelineDeps, 'config' | 'clock' | 'state'>): StageContext => ({
  config: deps.config,
  clock: deps.clock,
  tickets: deps.state.tickets,
  ledger: deps.state.ledger,
  limiter: deps.state.limiter,
  quarantine: deps.state.quarantine,
  isDeskAddress: deskAddressMatcher(deps.config),
});

const runStages = async (
  mail: InboundMail,
  deps: PipelineDeps,
  context: StageContext,
  executor: Executor,
  run: TraceRecorder,
): Promise<void> => {
  const { config } = context;

  const size = await run.stage('load', async () => {
    const bytes = await deps.rawStore.size(mail.rawKey);
    if (bytes === undefined) {
      throw new PermanentError(
        'raw_missing',
        `raw mail ${mail.rawKey} is not in the store (expired by the lifecycle rule, or deleted)`,
      );
    }
    return { ok: true, value: bytes, verdict: 'loaded', reason: 'loaded', detail: { bytes } } as const;
  });
  if (size === undefined) return;

  const parsed = await run.stage('parse', () =>
    parseStage({ open: () => deps.rawStore.open(mail.rawKey), size }, context),
  );
  if (!parsed) return;
  run.describe(parsed);

  // The desk-wide assessment: only what holds whatever a project says (a virus, forged
  // Authentication-Results counted). Every policy decision (required verdicts, the sender
  // domain's DMARC policy) is the routed project's, made once per project after routing
  // ("policy"), so a project's `honour_dmarc_policy: false` is never overruled by the desk's.
  const assessment = await run.stage('authenticate', () =>
    authenticateStage(
      {
        mail: parsed,
        verdicts: mail.verdicts,
        policy: { ...config.authentication, require: [], honour_dmarc_policy: false },
      },
      context,
    ),
  );
  if (!assessment) return;

  const classification = await run.stage('classify', () => classifyStage(parsed, context));
  if (!classification) return;
  if (classification.kind === 'own_mail' || classification.kind === 'bounce') {
    run.end({
      outcome: 'dropped',
      reason: classification.reason,
      message:
        classification.kind === 'own_mail'
          ? 'our own mail came back; dropped to prevent a loop'
          : 'a delivery status notification (bounce); no issue is made from it',
    });
    return;
  }

  const targets = await run.stage('route', () =>
    routeStage({ mail: parsed, envelope: mail.envelope }, context),
  );
  if (!targets) return;
  run.routes(targets);

  // Per project: decide a plan, then carry it out.
  const toDecide: MailToDecide = { inbound: mail, parsed, classification };
  const shared = {
    ...context,
    replyKey: (await deps.secrets.get()).reply_key,
    original: originalMail(mail, parsed, deps.rawStore),
    view: executor.view,
  };
  for (const target of targets) {
    const project = target.project;
    const decideContext: DecideContext = {
      ...shared,
      stage: (name, fn) => run.projectStage(name, project, fn),
    };
    const plan = await decide(toDecide, target, decideContext);
    if (plan.kind === 'ending') {
      run.delivery(endingRecord(project, plan));
      continue;
    }
    const delivery = await run.projectDelivery(project, () =>
      executor.execute(plan, { mailId: mail.id, mail: parsed, target }, context),
    );
    run.delivery(delivery.record);
    if (delivery.made && deps.onDelivered) {
      await deps.onDelivered({ mail, parsed, classification, target, delivery });
    }
  }
};

const endingRecord = (project: ProjectConfig, plan: EndingPlan): DeliveryRecord => ({
  project: project.path,
  outcome: plan.outcome,
  reason: plan.reason,
  message: plan.message,
});

/**
 * The raw mail as an attachment, uploaded as `original.eml` only when render must truncate a body:
 * the customer's full text is then one click away instead of lost. Streamed from the raw store.
 */
const originalMail = (mail: InboundMail, parsed: ParsedMail, rawStore: RawMailStore): AttachmentMeta => ({
  index: parsed.attachments.length,
  filename: 'original.eml',
  contentType: 'message/rfc822',
  contentId: undefined,
  disposition: 'attachment',
  size: parsed.size,
  related: false,
  open: () => rawStore.open(mail.rawKey),
});
