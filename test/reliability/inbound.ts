import { DeleteObjectCommand, type DeleteObjectCommandInput, S3Client } from '@aws-sdk/client-s3';
import type { Context, SQSBatchResponse, SQSEvent, SQSRecord } from 'aws-lambda';
import type { AwsClientStub } from 'aws-sdk-client-mock';
import { createLambdaLogger } from '../../adapters/aws/logger.ts';
import { createDeskMetrics } from '../../adapters/aws/metrics.ts';
import { S3ObjectStore } from '../../adapters/aws/s3-object-store.ts';
import { S3RawMailStore } from '../../adapters/aws/s3-raw-mail-store.ts';
import type { DeskConfig } from '../../core/config/schema.ts';
import type { PipelineDeps } from '../../core/pipeline.ts';
import type { Forge, SecretSource } from '../../core/ports.ts';
import { objectStoreState } from '../../core/state/index.ts';
import { createInboundHandler } from '../../functions/inbound/handler.ts';
import type { InboundWiring } from '../../functions/inbound/wiring.ts';
import { fakeBucket } from '../aws/s3-fakes.ts';
import { notificationVariant, sqsRecordFor } from '../functions/inbound/events.ts';
import { createMemoryForge } from '../support/memory-forge.ts';
import { testSecretSource } from '../support/test-secret.ts';
import { deskConfig, GAME_ADDRESS, movableClock } from './harness.ts';

/**
 * The inbound Lambda handler as deployed (middy, partial batch failures, Powertools logger) over an
 * in-memory S3 bucket behind aws-sdk-client-mock, for the reliability tests. The wiring is built
 * here instead of from the environment so a test chooses the forge and the secret.
 */

export const BUCKET = 'postdesk-desk-123456789012';
export const KEY_ARN = 'arn:aws:kms:us-east-1:123456789012:key/desk';

export const lambdaContext = {
  functionName: 'postdesk-inbound',
  functionVersion: '$LATEST',
  awsRequestId: 'reliability-request',
  invokedFunctionArn: 'arn:aws:lambda:us-east-1:123456789012:function:postdesk-inbound',
  memoryLimitInMB: '512',
  logGroupName: '/aws/lambda/postdesk-inbound',
  logStreamName: 'reliability',
  callbackWaitsForEmptyEventLoop: true,
  getRemainingTimeInMillis: () => 600_000,
  done: () => undefined,
  fail: () => undefined,
  succeed: () => undefined,
} as Context;

export interface InboundSetupOptions {
  config?: DeskConfig;
  forge?: Forge;
  secrets?: SecretSource;
  /** Replaces the wiring entirely (a cold start that fails, say). */
  wiring?: () => Promise<InboundWiring>;
}

export const setupInbound = (s3: AwsClientStub<S3Client>, options: InboundSetupOptions = {}) => {
  const bucket = fakeBucket(s3, BUCKET);
  const logger = createLambdaLogger({ serviceName: 'postdesk-inbound' });
  const metrics = createDeskMetrics({ namespace: 'Postdesk', serviceName: 'postdesk-inbound' });
  const client = new S3Client({});
  const forge = options.forge ?? createMemoryForge();
  const config = options.config ?? deskConfig();
  const clock = movableClock();
  const deps: PipelineDeps = {
    config,
    rawStore: new S3RawMailStore({ client, bucket: BUCKET, maxBytes: config.limits.max_raw_bytes }),
    state: objectStoreState(
      new S3ObjectStore({ client, bucket: BUCKET, kmsKeyId: KEY_ARN, conflictDelayMs: 0 }),
      { clock },
    ),
    forge,
    secrets: options.secrets ?? testSecretSource(),
    clock,
    logger,
  };
  let wirings = 0;
  const handler = createInboundHandler({
    logger,
    metrics,
    wiring:
      options.wiring ??
      (async () => {
        wirings += 1;
        return { bucket: BUCKET, deps };
      }),
    timeoutEarlyInMillis: 0,
  });
  const invoke = (event: SQSEvent) => handler(event, lambdaContext) as Promise<SQSBatchResponse>;
  /** Stores the raw mail as SES would and returns the SQS record announcing it. */
  const arrive = (messageId: string, raw: Buffer, recipients: string[] = [GAME_ADDRESS]): SQSRecord => {
    bucket.seed(`mail/${messageId}`, raw);
    return sqsRecordFor(notificationVariant({ messageId, recipients, bucket: BUCKET }), {
      sqsMessageId: `sqs-${messageId}`,
    });
  };
  /** Keys under `mail/` that anyone asked S3 to delete (must stay empty: raw mail is never deleted). */
  const rawDeletes = (): string[] =>
    s3
      .commandCalls(DeleteObjectCommand)
      .map((call) => (call.args[0].input as DeleteObjectCommandInput).Key ?? '')
      .filter((key) => key.startsWith('mail/'));
  return { bucket, deps, forge, logger, invoke, arrive, rawDeletes, wirings: () => wirings };
};
