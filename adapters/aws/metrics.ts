import { Metrics, MetricUnit } from '@aws-lambda-powertools/metrics';
import type { MetricsOptions } from '@aws-lambda-powertools/metrics/types';
import type { Forge } from '../../core/ports.ts';
import type { DecisionTrace } from '../../core/trace.ts';

/**
 * The desk's CloudWatch metrics, written as EMF lines by Powertools Metrics (no PutMetricData call,
 * no extra latency). Counters per mail; the outcomes that need explaining (dropped, quarantined,
 * rejected) carry a `reason` dimension so a dashboard can say *why* without reading logs. Those go
 * out as single metrics: a dimension added to the shared set would stick to every other metric of
 * the invocation.
 */

export const METRIC = {
  received: 'received',
  issuesCreated: 'issues_created',
  notesAdded: 'notes_added',
  dropped: 'dropped',
  quarantined: 'quarantined',
  rejected: 'rejected',
  forgeLatency: 'forge_latency_ms',
  retries: 'retries',
} as const;

export interface DeskMetrics {
  readonly powertools: Metrics;
  /** One mail taken from the queue. */
  received(): void;
  /** Counts what the pipeline did for one mail. */
  recordOutcome(trace: DecisionTrace): void;
  /** A mail (or an event) ended without a pipeline run, e.g. `event_invalid`. */
  recordStop(outcome: 'dropped' | 'quarantined' | 'rejected', reason: string): void;
  /** One forge call's duration. */
  forgeLatency(ms: number): void;
  /** A record handed back to SQS for redelivery. */
  retry(): void;
  /** Writes the stored metrics (the middy middleware does this after each invocation). */
  publish(): void;
}

export interface DeskMetricsOptions {
  /** @default process.env.POWERTOOLS_METRICS_NAMESPACE ?? 'Postdesk' */
  namespace?: string | undefined;
  /** @default process.env.POWERTOOLS_SERVICE_NAME ?? 'postdesk' */
  serviceName?: string | undefined;
  /** Where Powertools' own warnings go. */
  logger?: MetricsOptions['logger'] | undefined;
}

export const createDeskMetrics = (options: DeskMetricsOptions = {}): DeskMetrics => {
  const powertools = new Metrics({
    namespace: options.namespace ?? process.env['POWERTOOLS_METRICS_NAMESPACE'] ?? 'Postdesk',
    serviceName: options.serviceName ?? process.env['POWERTOOLS_SERVICE_NAME'] ?? 'postdesk',
    ...(options.logger === undefined ? {} : { logger: options.logger }),
  });
  const withReason = (name: string, reason: string): void => {
    powertools
      .singleMetric()
      .addDimension('reason', reason || 'unknown')
      .addMetric(name, MetricUnit.Count, 1);
  };
  return {
    powertools,
    received: () => powertools.addMetric(METRIC.received, MetricUnit.Count, 1),
    recordOutcome: (trace) => {
      const issues = trace.deliveries.filter((delivery) => delivery.outcome === 'issue').length;
      const notes = trace.deliveries.filter((delivery) => delivery.outcome === 'note').length;
      if (issues > 0) powertools.addMetric(METRIC.issuesCreated, MetricUnit.Count, issues);
      if (notes > 0) powertools.addMetric(METRIC.notesAdded, MetricUnit.Count, notes);
      if (trace.dryRun) return;
      if (trace.outcome === 'dropped') withReason(METRIC.dropped, trace.reason);
      if (trace.outcome === 'quarantined') withReason(METRIC.quarantined, trace.reason);
      if (trace.outcome === 'rejected') withReason(METRIC.rejected, trace.reason);
    },
    recordStop: (outcome, reason) => withReason(METRIC[outcome], reason),
    forgeLatency: (ms) => powertools.addMetric(METRIC.forgeLatency, MetricUnit.Milliseconds, ms),
    retry: () => powertools.addMetric(METRIC.retries, MetricUnit.Count, 1),
    publish: () => {
      if (powertools.hasStoredMetrics()) powertools.publishStoredMetrics();
    },
  };
};

/**
 * Times every forge call into `forge_latency_ms`. A decorator, so the GitLab adapter stays free of
 * CloudWatch and the local desk can use it unchanged.
 */
export const timedForge = (forge: Forge, metrics: Pick<DeskMetrics, 'forgeLatency'>): Forge => {
  const time = async <R>(call: () => Promise<R>): Promise<R> => {
    const started = performance.now();
    try {
      return await call();
    } finally {
      metrics.forgeLatency(Math.round(performance.now() - started));
    }
  };
  return {
    kind: forge.kind,
    createIssue: (project, input) => time(() => forge.createIssue(project, input)),
    uploadFile: (project, input) => time(() => forge.uploadFile(project, input)),
    addNote: (project, iid, input) => time(() => forge.addNote(project, iid, input)),
    getIssue: (project, iid) => time(() => forge.getIssue(project, iid)),
    reopenIssue: (project, iid) => time(() => forge.reopenIssue(project, iid)),
    findIssueByMarker: (project, marker) => time(() => forge.findIssueByMarker(project, marker)),
    findNoteByMarker: (project, iid, marker) => time(() => forge.findNoteByMarker(project, iid, marker)),
    readRepoFile: (project, path) => time(() => forge.readRepoFile(project, path)),
  };
};
