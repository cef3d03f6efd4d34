import { MetricUnit } from '@aws-lambda-powertools/metrics';
import type { Context, SQSEvent, SQSRecord } from 'aws-lambda';
import { createLambdaLogger, type LambdaLogger } from '../../adapters/aws/logger.ts';
import { createDeskMetrics, type DeskMetrics } from '../../adapters/aws/metrics.ts';
import { cachedOnce } from '../../core/cached-once.ts';
import { errorMessage, isTransient } from '../../core/errors.ts';
import { applySesFeedback, parseSesFeedback } from '../../core/outbound/feedback.ts';
import { parseJobBody, storedJobKey } from '../../core/outbound/jobs.ts';
import { sqsBatchHandler } from '../shared/sqs-batch.ts';
import { createNotifyWiring, type NotifyWiring } from './wiring.ts';

/**
 * The notify function: SQS batches from the outbound queue, one message per record, of two kinds:
 *
 * - a notification job (core/outbound/jobs.ts) from the webhook or the inbound function: rendered,
 *   composed and sent with SES `SendEmail` (raw content); the id SES returns is recorded on the
 *   ticket and in the message-id index;
 * - an SES bounce or complaint notification (SNS to this same queue, raw or enveloped): the
 *   participant is marked undeliverable.
 *
 * A failed record fails alone (partial batch response, ReportBatchItemFailures): SQS redelivers it
 * and, after the queue's receive count, moves it to the dead-letter queue, where an operator can
 * look at it and redrive it once the cause is fixed (an unverified identity, say). A message that is
 * neither kind can never succeed: it is logged and dropped.
 */

export const NOTIFY_METRIC = {
  sent: 'notifications_sent',
  skipped: 'notifications_skipped',
  suppressed: 'notifications_suppressed',
  undeliverable: 'participants_undeliverable',
  invalid: 'notify_messages_invalid',
} as const;

export interface NotifyHandlerOptions {
  logger: LambdaLogger;
  metrics: DeskMetrics;
  wiring: () => Promise<NotifyWiring>;
  /** @default 5 (middy's early timeout); 0 turns it off in tests. */
  timeoutEarlyInMillis?: number | undefined;
}

export interface NotifyRecordResult {
  sqsMessageId: string | undefined;
  kind: 'job' | 'feedback' | 'invalid';
  status: string;
}

export const createNotifyHandler = (options: NotifyHandlerOptions) => {
  const { logger, metrics } = options;
  const getWiring = cachedOnce(options.wiring, (error: unknown) => {
    logger.error('cold start failed; every record of the batch will be retried', {
      error: errorMessage(error),
    });
  });

  /** A counter; one with a dimension goes out on its own, so the dimension sticks to nothing else. */
  const count = (name: string, dimension?: { name: string; value: string }, value = 1): void => {
    if (dimension) {
      const single = metrics.powertools.singleMetric();
      single.addDimension(dimension.name, dimension.value);
      single.addMetric(name, MetricUnit.Count, value);
    } else {
      metrics.powertools.addMetric(name, MetricUnit.Count, value);
    }
  };

  const processRecord = async function processRecord(record: SQSRecord): Promise<NotifyRecordResult> {
    const wired = await getWiring();
    const store = wired.jobs;
    const body = typeof record.body === 'string' ? record.body : '';
    logger.beginMail({ sqsMessageId: record.messageId });
    try {
      const job = await parseJobBody(body, store);
      if (job) {
        const outcome = await wired.send(job);
        if (outcome.status === 'sent') count(NOTIFY_METRIC.sent, { name: 'kind', value: job.kind });
        else if (outcome.status === 'skipped')
          count(NOTIFY_METRIC.skipped, { name: 'reason', value: outcome.reason });
        else count(NOTIFY_METRIC.suppressed);
        const stored = storedJobKey(body);
        if (stored) await store.delete(stored).catch(() => undefined);
        return { sqsMessageId: record.messageId, kind: 'job', status: outcome.status };
      }
      const feedback = parseSesFeedback(body);
      if (feedback) {
        const result = await applySesFeedback(feedback, { state: wired.deps.state, logger });
        if (result.marked.length > 0) {
          count(NOTIFY_METRIC.undeliverable, { name: 'type', value: result.type }, result.marked.length);
        }
        return { sqsMessageId: record.messageId, kind: 'feedback', status: result.ignored ?? 'applied' };
      }
      logger.error('the message is neither a notification job nor SES feedback; dropped', {
        bodyStart: body.slice(0, 200),
      });
      count(NOTIFY_METRIC.invalid);
      return { sqsMessageId: record.messageId, kind: 'invalid', status: 'dropped' };
    } catch (error) {
      if (isTransient(error)) metrics.retry();
      throw error;
    } finally {
      logger.endMail();
    }
  };

  const processBatch = async function processBatch(
    event: SQSEvent,
    _context: Context,
  ): Promise<PromiseSettledResult<NotifyRecordResult>[]> {
    const records: SQSRecord[] = Array.isArray(event?.Records) ? event.Records : [];
    const results: PromiseSettledResult<NotifyRecordResult>[] = [];
    // One at a time: SES's send rate and the forge both prefer a steady trickle.
    for (const record of records) {
      try {
        results.push({ status: 'fulfilled', value: await processRecord(record) });
      } catch (reason) {
        results.push({ status: 'rejected', reason });
      }
    }
    return results;
  };

  return sqsBatchHandler({
    logger,
    metrics,
    timeoutEarlyInMillis: options.timeoutEarlyInMillis,
    processBatch,
  });
};

const defaultLogger = createLambdaLogger({
  serviceName: process.env['POWERTOOLS_SERVICE_NAME'] ?? 'postdesk-notify',
});
const defaultMetrics = createDeskMetrics({ logger: defaultLogger.powertools });

/** The Lambda entry point. */
export const handler = createNotifyHandler({
  logger: defaultLogger,
  metrics: defaultMetrics,
  wiring: () => createNotifyWiring({ env: process.env, logger: defaultLogger }),
});
