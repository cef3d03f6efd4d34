import { injectLambdaContext } from '@aws-lambda-powertools/logger/middleware';
import { logMetrics } from '@aws-lambda-powertools/metrics/middleware';
import middy from '@middy/core';
import sqsPartialBatchFailure from '@middy/sqs-partial-batch-failure';
import type { Context, SQSBatchResponse, SQSEvent } from 'aws-lambda';
import type { LambdaLogger } from '../../adapters/aws/logger.ts';
import type { DeskMetrics } from '../../adapters/aws/metrics.ts';
import { errorMessage, isTransient } from '../../core/errors.ts';

/**
 * The middleware chain every SQS-fed function shares: Lambda context and cold-start metric, EMF
 * metrics flushed per invocation, and partial batch failures — `processBatch` settles one promise
 * per record, and only the rejected ones go back to SQS, so one bad message never retries its
 * neighbours. A rejected record is logged with whether the failure was transient.
 */
export const sqsBatchHandler = <T>(options: {
  logger: LambdaLogger;
  metrics: DeskMetrics;
  /** @default 5 */
  timeoutEarlyInMillis?: number | undefined;
  processBatch: (event: SQSEvent, context: Context) => Promise<PromiseSettledResult<T>[]>;
}) =>
  middy<SQSEvent, SQSBatchResponse>({ timeoutEarlyInMillis: options.timeoutEarlyInMillis ?? 5 })
    .use(injectLambdaContext(options.logger.powertools, { resetKeys: true }))
    .use(logMetrics(options.metrics.powertools, { captureColdStartMetric: true }))
    .use(
      sqsPartialBatchFailure({
        logger: (reason: unknown, record: { messageId?: string }) => {
          options.logger.warn('record failed; SQS will redeliver it', {
            sqs_message_id: record.messageId,
            transient: isTransient(reason),
            error: errorMessage(reason),
          });
        },
      }),
    )
    .handler(
      options.processBatch as unknown as (event: SQSEvent, context: Context) => Promise<SQSBatchResponse>,
    );
