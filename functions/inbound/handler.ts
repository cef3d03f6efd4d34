import type { Context, SQSEvent } from 'aws-lambda';
import { createLambdaLogger, type LambdaLogger } from '../../adapters/aws/logger.ts';
import { createDeskMetrics, type DeskMetrics } from '../../adapters/aws/metrics.ts';
import { cachedOnce } from '../../core/cached-once.ts';
import { errorMessage, isTransient, TransientError } from '../../core/errors.ts';
import type { InboundMail } from '../../core/model.ts';
import { type PipelineDeps, processMail } from '../../core/pipeline.ts';
import { quarantineIdFor } from '../../core/state/quarantine.ts';
import type { DecisionTrace, Outcome } from '../../core/trace.ts';
import { sqsBatchHandler } from '../shared/sqs-batch.ts';
import { parseInboundRecord, toInboundMail } from './event-schema.ts';
import { createInboundWiring, type InboundWiring } from './wiring.ts';

/**
 * The inbound function: SQS batches of SES S3-action notifications, one mail per record.
 *
 * - A valid record becomes an InboundMail and goes through `processMail`, which logs the decision
 *   trace (one JSON line per mail) and quarantines permanent failures itself.
 * - A TransientError fails only that record: the partial batch response names it, SQS redelivers it
 *   alone, and its neighbours are not retried (ReportBatchItemFailures on the event source).
 * - A record that is not a valid event can never become valid by retrying: it is written to
 *   `quarantine/` with reason `event_invalid` and the record succeeds, instead of cycling to the
 *   dead-letter queue with nobody knowing why.
 *
 * Records run one after another: the logger's per-mail keys stay right, and the forge sees at most
 * one request per function instance (the event source's maximum concurrency bounds the rest).
 */

export interface InboundHandlerOptions {
  logger: LambdaLogger;
  metrics: DeskMetrics;
  /** Builds the dependencies; called at the first invocation, again only if it failed. */
  wiring: () => Promise<InboundWiring>;
  /** The pipeline; a test can stand in for it. @default processMail */
  processMail?: ((mail: InboundMail, deps: PipelineDeps) => Promise<DecisionTrace>) | undefined;
  /** @default 5 (middy's early timeout); 0 turns it off in tests. */
  timeoutEarlyInMillis?: number | undefined;
  /**
   * No record is started with less than this much time left in the invocation; the ones left are
   * handed back to SQS, so the records already done are reported done instead of being swept into a
   * timeout that fails the whole batch. @default 15000
   */
  reserveMs?: number | undefined;
}

/** What one record came to, for the settled results middy turns into the batch response. */
export interface RecordResult {
  sqsMessageId: string | undefined;
  mailId: string | undefined;
  outcome: Outcome | 'event_invalid';
}

export const EVENT_INVALID = 'event_invalid';
/** Bodies kept in an `event_invalid` quarantine entry are cut at this many characters. */
const MAX_KEPT_BODY = 64 * 1024;
const DEFAULT_RESERVE_MS = 15_000;

/**
 * Beyond the invocation's remaining time, how long a delivery's ledger lease still holds: the
 * function cannot run past its timeout, so a lease of remaining time plus this margin is never
 * overtaken by a retry while the attempt is alive (Powertools' idempotency ties its in-progress
 * expiry to `getRemainingTimeInMillis` the same way).
 */
export const LEASE_MARGIN_MS = 30_000;

export const createInboundHandler = (options: InboundHandlerOptions) => {
  const { logger, metrics } = options;
  const run = options.processMail ?? processMail;
  // The next invocation tries again after a failed cold start; this batch goes back to the queue whole.
  const getWiring = cachedOnce(options.wiring, (error: unknown) => {
    logger.error('cold start failed; every record of the batch will be retried', { error });
  });

  const quarantineInvalid = async (
    wired: InboundWiring,
    record: unknown,
    problem: { sqsMessageId: string | undefined; sesMessageId: string | undefined; problems: string[] },
    extra: { rawKey?: string | undefined; delivery?: string | undefined } = {},
  ): Promise<RecordResult> => {
    const now = wired.deps.clock.now();
    const body = (record as { body?: unknown } | null)?.body;
    const mailId = problem.sesMessageId ?? `sqs-${problem.sqsMessageId ?? `unknown-${now.getTime()}`}`;
    const message = `the SQS record is not a valid SES receipt notification, so no mail was processed: ${problem.problems.join('; ')}`;
    const trace: DecisionTrace = {
      mailId,
      receivedAt: now.toISOString(),
      mail: {},
      outcome: 'quarantined',
      reason: EVENT_INVALID,
      message,
      routes: [],
      stages: [
        {
          stage: 'load',
          verdict: 'invalid',
          reason: EVENT_INVALID,
          message,
          detail: {
            problems: problem.problems,
            sqsMessageId: problem.sqsMessageId,
            ...(extra.delivery === undefined ? {} : { delivery: extra.delivery }),
            body: typeof body === 'string' ? body.slice(0, MAX_KEPT_BODY) : undefined,
            bodyTruncated: typeof body === 'string' && body.length > MAX_KEPT_BODY,
          },
          ms: 0,
        },
      ],
      deliveries: [],
      dryRun: false,
    };
    await wired.deps.state.quarantine.put({
      id: quarantineIdFor(`event-${problem.sqsMessageId ?? mailId}`),
      mailId,
      rawKey: extra.rawKey ?? '',
      reason: EVENT_INVALID,
      message,
      trace,
    });
    logger.warn('invalid event quarantined; the record is not retried', {
      reason: EVENT_INVALID,
      problems: problem.problems,
      quarantined_as: mailId,
    });
    metrics.recordStop('quarantined', EVENT_INVALID);
    return { sqsMessageId: problem.sqsMessageId, mailId, outcome: EVENT_INVALID };
  };

  const processRecord = async function processRecord(
    record: unknown,
    wired: InboundWiring,
    remainingMs: number | undefined,
  ): Promise<RecordResult> {
    const parsed = parseInboundRecord(record);
    logger.beginMail({
      sqsMessageId: parsed.sqsMessageId,
      sesMessageId: parsed.ok ? parsed.notification.mail.messageId : parsed.sesMessageId,
    });
    try {
      if (!parsed.ok) return await quarantineInvalid(wired, record, parsed);
      const { notification } = parsed;
      const action = notification.receipt.action;
      if (action.bucketName !== wired.bucket) {
        return await quarantineInvalid(
          wired,
          record,
          {
            sqsMessageId: parsed.sqsMessageId,
            sesMessageId: notification.mail.messageId,
            problems: [
              `receipt.action.bucketName: is not the desk bucket ${wired.bucket} (POSTDESK_BUCKET); the function reads no other bucket`,
            ],
          },
          { rawKey: action.objectKey, delivery: parsed.delivery },
        );
      }
      const mail = toInboundMail(notification);
      metrics.received();
      try {
        const deps =
          remainingMs === undefined ? wired.deps : { ...wired.deps, leaseMs: remainingMs + LEASE_MARGIN_MS };
        const trace = await run(mail, deps);
        metrics.recordOutcome(trace);
        return { sqsMessageId: parsed.sqsMessageId, mailId: mail.id, outcome: trace.outcome };
      } catch (error) {
        if (isTransient(error)) {
          metrics.retry();
        } else {
          // processMail quarantines permanent failures itself; reaching here means it could not
          // (the store is down, or a bug). SQS redelivers, then dead-letters: the mail is not lost.
          logger.error('mail failed outside the pipeline; SQS will redeliver it', {
            mailId: mail.id,
            error: errorMessage(error),
          });
        }
        throw error;
      }
    } finally {
      logger.endMail();
    }
  };

  const processBatch = async function processBatch(
    event: SQSEvent,
    context: Context,
  ): Promise<PromiseSettledResult<RecordResult>[]> {
    const records: unknown[] = Array.isArray(event?.Records) ? event.Records : [];
    if (!Array.isArray(event?.Records)) {
      logger.error('the event is not an SQS batch (no Records array); nothing to do', {
        keys: Object.keys(event ?? {}),
      });
    }
    // A failed cold start throws here: the partial-batch middleware then fails every record.
    const wired = await getWiring();
    const results: PromiseSettledResult<RecordResult>[] = [];
    const reserveMs = options.reserveMs ?? DEFAULT_RESERVE_MS;
    for (const record of records) {
      const remaining = context?.getRemainingTimeInMillis?.();
      if (remaining !== undefined && remaining < reserveMs) {
        results.push({
          status: 'rejected',
          reason: new TransientError('time_budget', `not started: ${remaining} ms left in the invocation`),
        });
        continue;
      }
      try {
        results.push({ status: 'fulfilled', value: await processRecord(record, wired, remaining) });
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
  serviceName: process.env['POWERTOOLS_SERVICE_NAME'] ?? 'postdesk-inbound',
});
const defaultMetrics = createDeskMetrics({ logger: defaultLogger.powertools });

/** The Lambda entry point (`dist/inbound/index.mjs` exports it as `handler`). */
export const handler = createInboundHandler({
  logger: defaultLogger,
  metrics: defaultMetrics,
  wiring: () => createInboundWiring({ env: process.env, logger: defaultLogger, metrics: defaultMetrics }),
});
