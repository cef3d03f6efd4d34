import { S3Client } from '@aws-sdk/client-s3';
import { SecretsManagerClient } from '@aws-sdk/client-secrets-manager';
import { SQSClient } from '@aws-sdk/client-sqs';
import { S3ObjectStore } from '../adapters/aws/s3-object-store.ts';
import { S3RawMailStore } from '../adapters/aws/s3-raw-mail-store.ts';
import { SecretsManagerSecretSource } from '../adapters/aws/secret-source.ts';
import { createGitLabForge } from '../adapters/forges/gitlab/index.ts';
import type { DeskConfig } from '../core/config/schema.ts';
import { PermanentError } from '../core/errors.ts';
import { createOnDelivered } from '../core/outbound/on-delivered.ts';
import type { PipelineDeps } from '../core/pipeline.ts';
import { type Logger, type ObjectStore, silentLogger, systemClock } from '../core/ports.ts';
import { objectStoreState } from '../core/state/index.ts';
import { createSqsNotifyQueue } from '../functions/notify/queue.ts';
import { clientConfig, type DeskNames, requireName } from './aws-names.ts';

/**
 * The deployed desk's state, opened from an operator's machine for `quarantine --aws`: the same
 * adapters the inbound function uses (S3 object store under the state prefix, raw mail as SES wrote
 * it), so a release runs exactly as a Lambda run would, with the operator's credentials.
 */

export interface AwsDeskState {
  bucket: string;
  store: ObjectStore;
  /** Where a raw mail is, for people. */
  where(rawKey: string): string;
}

export const openAwsState = (names: DeskNames, clients: { s3?: S3Client } = {}): AwsDeskState => {
  const bucket = requireName(names, 'bucket');
  const s3 = clients.s3 ?? new S3Client(clientConfig(names));
  return {
    bucket,
    // Reads need no key; a write without one is refused by the bucket policy, so release asks for it.
    store: new S3ObjectStore({
      client: s3,
      bucket,
      kmsKeyId: names.kmsKeyId ?? '',
      prefix: names.statePrefix ?? '',
    }),
    where: (rawKey) => `s3://${bucket}/${rawKey}`,
  };
};

/** The pipeline against the deployed desk: GitLab with the token from Secrets Manager. */
export const openAwsPipeline = (
  names: DeskNames,
  config: DeskConfig,
  options: { logger?: Logger | undefined; clients?: { s3?: S3Client; sqs?: SQSClient } } = {},
): { deps: PipelineDeps; store: ObjectStore; notifications: boolean } => {
  if (config.forge.kind !== 'gitlab') {
    throw new PermanentError(
      'forge_unsupported',
      'the deployed desk delivers to GitLab: set forge.kind: gitlab in the config',
    );
  }
  const bucket = requireName(names, 'bucket');
  const kmsKeyId = requireName(names, 'kmsKeyId');
  const secretId = requireName(names, 'secretId');
  const logger = options.logger ?? silentLogger;
  const s3 = options.clients?.s3 ?? new S3Client(clientConfig(names));
  const store = new S3ObjectStore({ client: s3, bucket, kmsKeyId, prefix: names.statePrefix ?? '' });
  const clock = systemClock;
  const state = objectStoreState(store, { clock });
  const secrets = new SecretsManagerSecretSource({
    client: new SecretsManagerClient(clientConfig(names)),
    secretId,
  });
  const forge = createGitLabForge({
    url: config.forge.url,
    token: async () => (await secrets.get()).forge_token ?? '',
    onUnauthorized: async () => {
      await secrets.refresh();
    },
    logger,
  });
  const queueUrl = names.outboundQueue;
  const onDelivered =
    queueUrl === undefined
      ? undefined
      : createOnDelivered({
          config,
          state,
          queue: createSqsNotifyQueue({
            client: options.clients?.sqs ?? new SQSClient(clientConfig(names)),
            queueUrl,
            store,
          }),
          clock,
          logger,
        });
  return {
    deps: {
      config,
      rawStore: new S3RawMailStore({ client: s3, bucket, maxBytes: config.limits.max_raw_bytes }),
      state,
      forge,
      secrets,
      clock,
      logger,
      onDelivered,
    },
    store,
    notifications: onDelivered !== undefined,
  };
};
