import { SQSClient } from '@aws-sdk/client-sqs';
import { type EnvVariable, readEnv } from '../../adapters/aws/env.ts';
import type { LambdaLogger } from '../../adapters/aws/logger.ts';
import { createWebhookHandler, type WebhookDeps, type WebhookHandler } from '../../core/outbound/webhook.ts';
import { systemClock } from '../../core/ports.ts';
import { INBOUND_SECRET_ENV, loadInboundConfig } from '../inbound/wiring.ts';
import { createSqsNotifyQueue } from '../notify/queue.ts';
import { createDeskState, DESK_ENV, type DeskClients, type DeskEnv, secretOf } from '../notify/wiring.ts';

/**
 * What the webhook function builds once per cold start: config, state store (ticket records are
 * read to find a note's recipients; unsubscribes are written under `outbox/`), the desk secret (for
 * the webhook token and the unsubscribe key) and the SQS queue the jobs go on.
 */

/** The queue URL: `POSTDESK_NOTIFY_QUEUE_URL`, or infra's `POSTDESK_OUTBOUND_QUEUE_URL`. */
export const QUEUE_ENV = {
  POSTDESK_NOTIFY_QUEUE_URL: { description: 'the URL of the outbound (notify) SQS queue' },
  POSTDESK_OUTBOUND_QUEUE_URL: { description: 'the same, under the name the CDK stack sets' },
} as const;

export interface WebhookEnv extends DeskEnv {
  queueUrl: string;
}

export const readWebhookEnv = (env: NodeJS.ProcessEnv): WebhookEnv => {
  type OneOf = Partial<Record<keyof typeof INBOUND_SECRET_ENV | keyof typeof QUEUE_ENV, EnvVariable>>;
  const values = readEnv<typeof DESK_ENV, OneOf>(env, DESK_ENV, [INBOUND_SECRET_ENV, QUEUE_ENV]);
  return {
    bucket: values.POSTDESK_BUCKET,
    kmsKeyId: values.POSTDESK_KMS_KEY_ID,
    config: values.POSTDESK_CONFIG,
    statePrefix: values.POSTDESK_STATE_PREFIX,
    secret: secretOf(values.POSTDESK_SECRET_ID, values.POSTDESK_SECRET_BLOB),
    queueUrl: values.POSTDESK_NOTIFY_QUEUE_URL ?? values.POSTDESK_OUTBOUND_QUEUE_URL ?? '',
  };
};

export interface WebhookWiring {
  deps: WebhookDeps;
  handle: WebhookHandler;
}

export interface WebhookWiringOptions {
  env: NodeJS.ProcessEnv;
  logger: LambdaLogger;
  clients?: (DeskClients & { sqs?: SQSClient | undefined }) | undefined;
}

export const createWebhookWiring = async (options: WebhookWiringOptions): Promise<WebhookWiring> => {
  const settings = readWebhookEnv(options.env);
  const config = await loadInboundConfig(settings.config, options.env);
  const clock = systemClock;
  const { store, state, secrets } = createDeskState(settings, options.clients, options.logger, clock);
  const deps: WebhookDeps = {
    config,
    secrets,
    state,
    queue: createSqsNotifyQueue({
      client: options.clients?.sqs ?? new SQSClient({}),
      queueUrl: settings.queueUrl,
      store,
    }),
    logger: options.logger,
    clock,
  };
  return { deps, handle: createWebhookHandler(deps) };
};
