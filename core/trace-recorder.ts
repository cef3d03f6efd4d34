import { performance } from 'node:perf_hooks';
import type { ProjectConfig } from './config/schema.ts';
import type { Executor } from './execute.ts';
import type { InboundMail, ParsedMail } from './model.ts';
import type { EndingPlan, RouteTarget } from './stages/contracts.ts';
import type { Delivery } from './stages/deliver/index.ts';
import {
  combineOutcomes,
  type DecisionTrace,
  type DeliveryRecord,
  type Outcome,
  type StageName,
  type StageRecord,
  type StageResult,
} from './trace.ts';

/** What stopped a mail early: the outcome, reason code and a sentence for a person. */
type Ending = Omit<EndingPlan, 'kind'>;

/** Collects a mail's stage records, its routes and deliveries, and its final outcome (core/pipeline.ts). */
export class TraceRecorder {
  readonly stages: StageRecord[] = [];
  private readonly deliveries: DeliveryRecord[] = [];
  private readonly mailInfo: DecisionTrace['mail'] = {};
  private routeList: DecisionTrace['routes'] = [];
  private ending: Ending | undefined;

  constructor(
    private readonly mail: InboundMail,
    /** The executor that runs this mail's plans: a plan-only one makes the trace a dry run. */
    private readonly executor: Pick<Executor, 'dryRun'>,
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

  /** Runs a mail-wide stage; on a stop, ends the mail and returns undefined. */
  async stage<T>(name: StageName, fn: () => Promise<StageResult<T>>): Promise<T | undefined> {
    const result = await this.measure(name, undefined, fn);
    if (result.ok) return result.value;
    this.ending = { outcome: result.outcome, reason: result.reason, message: result.message };
    return undefined;
  }

  /** Runs a per-project stage and returns its result; the caller turns a stop into that route's record. */
  projectStage<R extends StageResult<unknown> | undefined>(
    name: StageName,
    project: ProjectConfig,
    fn: () => Promise<R>,
  ): Promise<R> {
    return this.measure(name, project, fn);
  }

  /** Runs the executor for a project and records its `deliver` stage line (`failed` when it throws). */
  async projectDelivery(project: ProjectConfig, fn: () => Promise<Delivery>): Promise<Delivery> {
    const started = performance.now();
    let delivery: Delivery | undefined;
    try {
      delivery = await fn();
      return delivery;
    } finally {
      const line = delivery?.stage ?? { verdict: 'failed', reason: 'error' };
      this.stages.push({
        stage: 'deliver',
        project: project.path,
        verdict: line.verdict,
        reason: line.reason,
        ...(line.message ? { message: line.message } : {}),
        ms: Math.round(performance.now() - started),
      });
    }
  }

  /** Runs a stage and records it; an undefined result (a stage with nothing to report) is not recorded. */
  private async measure<R extends StageResult<unknown> | undefined>(
    name: StageName,
    project: ProjectConfig | undefined,
    fn: () => Promise<R>,
  ): Promise<R> {
    const started = performance.now();
    const result = await fn();
    if (result === undefined) return result;
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
      dryRun: this.executor.dryRun,
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
