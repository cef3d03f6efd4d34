import { performance } from 'node:perf_hooks';
import type { AuthenticationPolicy, DeskConfig, ProjectConfig } from './config/schema.ts';
import { deskAddressMatcher } from './desk-addresses.ts';
import { errorMessage, isTransient, PermanentError } from './errors.ts';
import type { AttachmentMeta, InboundMail, ParsedMail } from './model.ts';
import type { Clock, Forge, Logger, ObjectStore, RawMailStore, SecretSource } from './ports.ts';
import { authenticateMail } from './stages/authenticate/index.ts';
import { classifyMail } from './stages/classify/index.ts';
import type { Classification, RouteTarget } from './stages/contracts.ts';
import { deliverIssue, deliverNote } from './stages/deliver/index.ts';
import { limitInbound } from './stages/limit/index.ts';
import { parseMail } from './stages/parse/index.ts';
import { renderIssue, renderNote } from './stages/render/index.ts';
import { routeMail } from './stages/route/index.ts';
import { threadMail } from './stages/thread/index.ts';
import { createQuarantine } from './state/quarantine.ts';
import { createTicketStore } from './state/tickets.ts';
import {
  combineOutcomes,
  type DecisionTrace,
  type DeliveryRecord,
  type Outcome,
  type StageName,
  type StageRecord,
  type StageResult,
} from './trace.ts';

/** Everything the pipeline needs from outside, built once per cold start (or per CLI process). */
export interface PipelineDeps {
  config: DeskConfig;
  rawStore: RawMailStore;
  /** State: ledger, tickets, message-id index, quarantine, rate counters. */
  store: ObjectStore;
  forge: Forge;
  secrets: SecretSource;
  clock: Clock;
  logger: Logger;
  /**
   * How long this attempt at the mail may still run, ms: the ledger lease its deliveries claim, so
   * a retry never takes over from an attempt that is still alive. The inbound function passes its
   * invocation's remaining time plus a margin. @default the ledger's DEFAULT_LEASE_MS (5 minutes)
   */
  leaseMs?: number | undefined;
  /** Decide only: write nothing, call no forge (`postdesk explain`). */
  dryRun?: boolean | undefined;
  /** Called after each delivery that created an issue or a note (outbound notifications hook here). */
  onDelivered?: ((event: DeliveredEvent) => Promise<void>) | undefined;
}

export interface DeliveredEvent {
  mail: InboundMail;
  parsed: ParsedMail;
  classification: Classification;
  target: RouteTarget;
  record: DeliveryRecord;
}

/** What stopped a mail early: the outcome, reason code and a sentence for a person. */
interface Ending {
  outcome: Exclude<Outcome, 'issue' | 'note'>;
  reason: string;
  message: string;
}

/**
 * Runs one mail through load -> parse -> authenticate -> classify -> route, then, for every routed
 * project, policy -> thread -> render -> deliver, and returns the decision trace.
 *
 * Failure semantics: a TransientError propagates (the queue retries the mail; deliveries already
 * done are skipped by the ledger). Any other error — a PermanentError from the forge, or a bug —
 * quarantines the mail with its trace so it is never retried forever and never lost.
 */
export const processMail = async (mail: InboundMail, deps: PipelineDeps): Promise<DecisionTrace> => {
  const run = new TraceRecorder(mail, deps.dryRun === true);
  try {
    await runStages(mail, deps, run);
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
  if (trace.outcome === 'quarantined' && !trace.dryRun) {
    await createQuarantine(deps.store).put({
      mailId: mail.id,
      rawKey: mail.rawKey,
      reason: trace.reason,
      message: trace.message,
      trace,
      createdAt: deps.clock.now().toISOString(),
    });
  }
  deps.logger.info('decision', { trace });
  return trace;
};

const runStages = async (mail: InboundMail, deps: PipelineDeps, run: TraceRecorder): Promise<void> => {
  const { config } = deps;

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
    parseMail(() => deps.rawStore.open(mail.rawKey), { limits: config.limits, size }),
  );
  if (!parsed) return;
  run.describe(parsed);

  // The desk-wide assessment: only what holds whatever a project says (a virus, forged
  // Authentication-Results counted). Every policy decision (required verdicts, the sender
  // domain's DMARC policy) is the routed project's, made once per project after routing
  // ("policy"), so a project's `honour_dmarc_policy: false` is never overruled by the desk's.
  const assessment = await run.stage('authenticate', async () =>
    authenticateMail(parsed, mail.verdicts, {
      ...config.authentication,
      require: [],
      honour_dmarc_policy: false,
    }),
  );
  if (!assessment) return;

  const isDeskAddress = deskAddressMatcher(config);
  const classification = await run.stage('classify', async () =>
    classifyMail(parsed, { domain: config.domain, isDeskAddress, loopHeader: 'x-postdesk-loop' }),
  );
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

  const targets = await run.stage('route', async () => routeMail(parsed, mail.envelope, config));
  if (!targets) return;
  run.routes(targets);

  const secret = await deps.secrets.get();
  const tickets = createTicketStore(deps.store);
  for (const target of targets) {
    const record = await deliverToProject({
      mail,
      parsed,
      classification,
      target,
      deps,
      run,
      tickets,
      secret,
      isDeskAddress,
    });
    run.delivery(record);
    if (!deps.dryRun && deps.onDelivered && (record.outcome === 'issue' || record.outcome === 'note')) {
      await deps.onDelivered({ mail, parsed, classification, target, record });
    }
  }
};

interface RouteContext {
  mail: InboundMail;
  parsed: ParsedMail;
  classification: Classification;
  target: RouteTarget;
  deps: PipelineDeps;
  run: TraceRecorder;
  tickets: ReturnType<typeof createTicketStore>;
  secret: Awaited<ReturnType<SecretSource['get']>>;
  /** Built once per mail (a set over every project alias). */
  isDeskAddress: (address: string) => boolean;
}

const deliverToProject = async (context: RouteContext): Promise<DeliveryRecord> => {
  const { mail, parsed, classification, target, deps, run } = context;
  const project = target.project;
  const ended = (result: Extract<StageResult<unknown>, { ok: false }>): DeliveryRecord => ({
    project: project.path,
    outcome: result.outcome,
    reason: result.reason,
    message: result.message,
  });

  const { policy, notEvaluated } = effectivePolicy(
    project.authentication ?? deps.config.authentication,
    mail.verdicts.source,
  );
  const auth = await run.projectStage('policy', project, async () => {
    const result = authenticateMail(parsed, mail.verdicts, policy);
    if (!result.ok || notEvaluated.length === 0) return result;
    return { ...result, detail: { ...result.detail, notEvaluated, verdictSource: mail.verdicts.source } };
  });
  if (!auth.ok) return ended(auth);
  const extraLabels = auth.value.failed.length > 0 && policy.on_fail === 'label' ? [policy.fail_label] : [];

  const decision = await run.projectStage('thread', project, () =>
    threadMail({
      mail: parsed,
      target,
      classification,
      tickets: context.tickets,
      replyKey: context.secret.reply_key,
      deskAddress: context.isDeskAddress,
    }),
  );
  if (!decision.ok) return ended(decision);
  const thread = decision.value;
  const automated = classification.kind !== 'human';

  // Floods: sliding windows per ticket, per sender and per desk (config.rate_limits). A dry run
  // counts nothing.
  if (!deps.dryRun) {
    const limited = await run.projectStage('limit', project, () =>
      limitInbound({
        mailId: mail.id,
        mail: parsed,
        classification,
        project,
        thread,
        rateLimits: deps.config.rate_limits,
        isDeskAddress: context.isDeskAddress,
        store: deps.store,
        clock: deps.clock,
      }),
    );
    if (!limited.ok) return ended(limited);
  }

  if (thread.kind === 'new_ticket') {
    const template = await resolveTemplate(project, deps);
    const draft = await run.projectStage('render', project, () =>
      renderIssue({
        mail: parsed,
        project,
        limits: deps.config.limits,
        template,
        extraLabels,
        original: originalMail(mail, parsed, deps),
      }),
    );
    if (!draft.ok) return ended(draft);
    if (deps.dryRun) {
      run.record('deliver', project, 'skipped', 'dry_run', 'explain writes nothing and calls no forge');
      return {
        project: project.path,
        outcome: 'issue',
        reason: 'new_ticket',
        issue: {
          title: draft.value.title,
          description: draft.value.description,
          labels: draft.value.labels,
          confidential: draft.value.confidential,
          uploads: draft.value.uploads.map((plan) => ({
            filename: plan.filename,
            contentType: plan.contentType,
            size: plan.attachment.size,
            inline: plan.inline,
          })),
        },
      };
    }
    return run.projectDelivery(project, () =>
      deliverIssue({
        mailId: mail.id,
        leaseMs: deps.leaseMs,
        mail: parsed,
        target,
        draft: draft.value,
        forge: deps.forge,
        store: deps.store,
        clock: deps.clock,
        isDeskAddress: context.isDeskAddress,
      }),
    );
  }

  const note = await run.projectStage('render', project, () =>
    renderNote({
      mail: parsed,
      project,
      limits: deps.config.limits,
      internal: thread.internal,
      automated,
      original: originalMail(mail, parsed, deps),
    }),
  );
  if (!note.ok) return ended(note);
  if (deps.dryRun) {
    run.record('deliver', project, 'skipped', 'dry_run', 'explain writes nothing and calls no forge');
    return {
      project: project.path,
      outcome: 'note',
      reason: thread.via,
      note: {
        issueIid: thread.issueIid,
        body: note.value.body,
        internal: note.value.internal,
        uploads: note.value.uploads.map((plan) => ({
          filename: plan.filename,
          contentType: plan.contentType,
          size: plan.attachment.size,
          inline: plan.inline,
        })),
      },
    };
  }
  return run.projectDelivery(project, () =>
    deliverNote({
      mailId: mail.id,
      leaseMs: deps.leaseMs,
      mail: parsed,
      target,
      decision: thread,
      draft: note.value,
      forge: deps.forge,
      store: deps.store,
      clock: deps.clock,
      isDeskAddress: context.isDeskAddress,
    }),
  );
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

/**
 * The raw mail as an attachment, uploaded as `original.eml` only when render must truncate a body:
 * the customer's full text is then one click away instead of lost. Streamed from the raw store.
 */
const originalMail = (mail: InboundMail, parsed: ParsedMail, deps: PipelineDeps): AttachmentMeta => ({
  index: parsed.attachments.length,
  filename: 'original.eml',
  contentType: 'message/rfc822',
  contentId: undefined,
  disposition: 'attachment',
  size: parsed.size,
  related: false,
  open: () => deps.rawStore.open(mail.rawKey),
});

/** The project's description template: inline text, or a file read from the repo through the forge. */
const resolveTemplate = async (project: ProjectConfig, deps: PipelineDeps): Promise<string | undefined> => {
  if (!project.template) return undefined;
  if ('inline' in project.template) return project.template.inline;
  if (deps.dryRun) return undefined;
  return deps.forge.readRepoFile({ path: project.path }, project.template.path);
};

/** Collects stage records and the final outcome. */
class TraceRecorder {
  readonly stages: StageRecord[] = [];
  private readonly deliveries: DeliveryRecord[] = [];
  private readonly mailInfo: DecisionTrace['mail'] = {};
  private routeList: DecisionTrace['routes'] = [];
  private ending: Ending | undefined;

  constructor(
    private readonly mail: InboundMail,
    private readonly dryRun: boolean,
  ) {}

  describe(parsed: ParsedMail): void {
    this.mailInfo.messageId = parsed.messageId;
    this.mailInfo.from = parsed.from[0]?.address;
    this.mailInfo.subject = parsed.subject;
    this.mailInfo.size = parsed.size;
  }

  routes(targets: readonly RouteTarget[]): void {
    this.routeList = targets.map((target) => ({
      project: target.project.path,
      address: target.address,
      via: target.via,
    }));
  }

  end(ending: Ending): void {
    this.ending = ending;
  }

  delivery(record: DeliveryRecord): void {
    this.deliveries.push(record);
  }

  record(
    stage: StageName,
    project: ProjectConfig | undefined,
    verdict: string,
    reason: string,
    message?: string,
  ) {
    this.stages.push({
      stage,
      ...(project ? { project: project.path } : {}),
      verdict,
      reason,
      ...(message ? { message } : {}),
      ms: 0,
    });
  }

  /** Runs a mail-wide stage; on a stop, ends the mail and returns undefined. */
  async stage<T>(name: StageName, fn: () => Promise<StageResult<T>>): Promise<T | undefined> {
    const result = await this.measure(name, undefined, fn);
    if (result.ok) return result.value;
    this.ending = { outcome: result.outcome, reason: result.reason, message: result.message };
    return undefined;
  }

  /** Runs a per-project stage and returns its result; the caller turns a stop into that route's record. */
  projectStage<T>(name: StageName, project: ProjectConfig, fn: () => Promise<StageResult<T>>) {
    return this.measure(name, project, fn);
  }

  async projectDelivery(project: ProjectConfig, fn: () => Promise<DeliveryRecord>): Promise<DeliveryRecord> {
    const started = performance.now();
    let record: DeliveryRecord | undefined;
    try {
      record = await fn();
      return record;
    } finally {
      this.stages.push({
        stage: 'deliver',
        project: project.path,
        verdict: record ? record.outcome : 'failed',
        reason: record ? record.reason : 'error',
        ...(record?.message ? { message: record.message } : {}),
        ms: Math.round(performance.now() - started),
      });
    }
  }

  private async measure<T>(
    name: StageName,
    project: ProjectConfig | undefined,
    fn: () => Promise<StageResult<T>>,
  ): Promise<StageResult<T>> {
    const started = performance.now();
    const result = await fn();
    this.stages.push({
      stage: name,
      ...(project ? { project: project.path } : {}),
      verdict: result.ok ? result.verdict : result.outcome,
      reason: result.reason,
      ...(!result.ok ? { message: result.message } : {}),
      ...(result.detail ? { detail: result.detail } : {}),
      ms: Math.round(performance.now() - started),
    });
    return result;
  }

  finish(): DecisionTrace {
    let outcome: Outcome;
    let reason: string;
    let message: string;
    if (this.ending) {
      ({ outcome, reason, message } = this.ending);
    } else {
      outcome = combineOutcomes(this.deliveries.map((record) => record.outcome));
      const decisive = this.deliveries.find((record) => record.outcome === outcome);
      reason = decisive?.reason ?? 'no_delivery';
      message = decisive?.message ?? describeOutcome(outcome, this.deliveries);
    }
    const route = this.routeList[0];
    return {
      mailId: this.mail.id,
      receivedAt: this.mail.receivedAt.toISOString(),
      mail: this.mailInfo,
      outcome,
      reason,
      message,
      routes: this.routeList,
      ...(route ? { route } : {}),
      stages: this.stages,
      deliveries: this.deliveries,
      dryRun: this.dryRun,
    };
  }
}

const describeOutcome = (outcome: Outcome, deliveries: readonly DeliveryRecord[]): string => {
  const projects = deliveries.filter((record) => record.outcome === outcome).map((record) => record.project);
  switch (outcome) {
    case 'issue':
      return `new issue in ${projects.join(', ')}`;
    case 'note':
      return `comment on an existing issue in ${projects.join(', ')}`;
    default:
      return `${outcome} for ${projects.join(', ') || 'every route'}`;
  }
};
