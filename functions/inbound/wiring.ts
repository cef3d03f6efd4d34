import { readFile } from 'node:fs/promises';
import { dirname, isAbsolute, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { KMSClient } from '@aws-sdk/client-kms';
import { S3Client } from '@aws-sdk/client-s3';
import { SecretsManagerClient } from '@aws-sdk/client-secrets-manager';
import { SQSClient } from '@aws-sdk/client-sqs';
import { EnvironmentError, readEnv } from '../../adapters/aws/env.ts';
import type { LambdaLogger } from '../../adapters/aws/logger.ts';
import { type DeskMetrics, timedForge } from '../../adapters/aws/metrics.ts';
import { S3ObjectStore } from '../../adapters/aws/s3-object-store.ts';
import { S3RawMailStore } from '../../adapters/aws/s3-raw-mail-store.ts';
import { secretValues } from '../../adapters/aws/secret-document.ts';
import {
  type CachedSecretSource,
  KmsBlobSecretSource,
  SecretsManagerSecretSource,
} from '../../adapters/aws/secret-source.ts';
import { createGitLabForge, type GitLabForgeOptions } from '../../adapters/forges/gitlab/index.ts';
import { parseConfig } from '../../core/config/parse.ts';
import type { DeskConfig } from '../../core/config/schema.ts';
import { PermanentError } from '../../core/errors.ts';
import { createOnDelivered } from '../../core/outbound/on-delivered.ts';
import type { PipelineDeps } from '../../core/pipeline.ts';
import { systemClock } from '../../core/ports.ts';
import { objectStoreState } from '../../core/state/index.ts';
import { createSqsNotifyQueue } from '../notify/queue.ts';

/**
 * Everything the inbound function builds once per cold start: environment, config, SDK clients,
 * stores, the secret source and the forge. Nothing here runs per mail. A problem found here fails
 * the whole batch (SQS redelivers it) with one error that names every missing or wrong variable.
 */

/** The inbound function's environment. Infra sets these; `readInboundEnv` checks them all at once. */
export const INBOUND_ENV = {
  POSTDESK_BUCKET: {
    description: 'the desk bucket: raw mail under mail/, state under ledger/, tickets/ and quarantine/',
  },
  POSTDESK_KMS_KEY_ID: {
    description: 'the desk KMS key ARN; every object the function writes is encrypted with it (SSE-KMS)',
  },
  POSTDESK_CONFIG: {
    description: 'the postdesk.config.yaml text itself, or the path of that file in the bundle',
  },
  POSTDESK_STATE_PREFIX: {
    description: 'a prefix for state keys (ledger/, tickets/, quarantine/)',
    default: '',
  },
  POSTDESK_OUTBOUND_QUEUE_URL: {
    description: 'the outbound queue for thank-you and new-participant mails (unset: none are sent)',
    default: '',
  },
} as const;

export const INBOUND_SECRET_ENV = {
  POSTDESK_SECRET_ID: {
    description: 'the Secrets Manager secret (name or ARN) holding the desk secret YAML',
  },
  POSTDESK_SECRET_BLOB: {
    description: `the desk secret YAML encrypted with the desk key and the encryption context purpose=postdesk-desk-secret, base64`,
  },
} as const;

export interface InboundEnv {
  bucket: string;
  kmsKeyId: string;
  config: string;
  statePrefix: string;
  /** Undefined when the desk sends no automatic mail from the inbound function. */
  outboundQueueUrl: string | undefined;
  secret: { kind: 'secrets-manager'; secretId: string } | { kind: 'kms-blob'; ciphertext: string };
}

export const readInboundEnv = (env: NodeJS.ProcessEnv): InboundEnv => {
  const values = readEnv(env, INBOUND_ENV, [INBOUND_SECRET_ENV]);
  const secretId = values.POSTDESK_SECRET_ID;
  const blob = values.POSTDESK_SECRET_BLOB;
  if (secretId !== undefined && blob !== undefined) {
    throw new EnvironmentError([
      {
        name: 'POSTDESK_SECRET_ID and POSTDESK_SECRET_BLOB',
        message: 'both are set; set only one, so there is no doubt which secret the desk runs with',
      },
    ]);
  }
  return {
    bucket: values.POSTDESK_BUCKET,
    kmsKeyId: values.POSTDESK_KMS_KEY_ID,
    config: values.POSTDESK_CONFIG,
    statePrefix: values.POSTDESK_STATE_PREFIX,
    outboundQueueUrl:
      values.POSTDESK_OUTBOUND_QUEUE_URL === '' ? undefined : values.POSTDESK_OUTBOUND_QUEUE_URL,
    secret:
      secretId !== undefined
        ? { kind: 'secrets-manager', secretId }
        : { kind: 'kms-blob', ciphertext: blob ?? '' },
  };
};

/** A single line ending in `.yaml`/`.yml` is a path; anything else is the YAML itself. */
const looksLikePath = (value: string): boolean => !value.includes('\n') && /\.ya?ml$/i.test(value.trim());

/**
 * The config from `POSTDESK_CONFIG`: the YAML text, or a file in the bundle (relative paths resolve
 * against the function's code directory, `LAMBDA_TASK_ROOT`).
 */
export const loadInboundConfig = async (value: string, env: NodeJS.ProcessEnv): Promise<DeskConfig> => {
  if (!looksLikePath(value)) return parseConfig(value, 'POSTDESK_CONFIG');
  const root = env['LAMBDA_TASK_ROOT'] ?? dirname(fileURLToPath(import.meta.url));
  const path = isAbsolute(value.trim()) ? value.trim() : resolve(root, value.trim());
  let text: string;
  try {
    text = await readFile(path, 'utf8');
  } catch (error) {
    throw new PermanentError(
      'config_missing',
      `POSTDESK_CONFIG names ${path}, which cannot be read (${(error as NodeJS.ErrnoException).code ?? 'error'}): bundle the file with the function, or put the YAML itself in POSTDESK_CONFIG`,
      { cause: error },
    );
  }
  return parseConfig(text, path);
};

/** What the handler runs with: the pipeline's dependencies and the bucket SES writes to. */
export interface InboundWiring {
  deps: PipelineDeps;
  /** Events naming another bucket are refused: the function reads only the desk's own. */
  bucket: string;
}

export interface InboundWiringOptions {
  env: NodeJS.ProcessEnv;
  logger: LambdaLogger;
  metrics: DeskMetrics;
  /** SDK clients; default ones use the region and credentials of the Lambda environment. */
  clients?:
    | { s3?: S3Client; secretsManager?: SecretsManagerClient; kms?: KMSClient; sqs?: SQSClient }
    | undefined;
  /** Forge knobs for tests (fast retries, short timeouts). */
  gitlab?: Pick<GitLabForgeOptions, 'retry' | 'timeoutMs' | 'connectTimeoutMs'> | undefined;
}

export const createInboundWiring = async (options: InboundWiringOptions): Promise<InboundWiring> => {
  const { env, logger, metrics } = options;
  const settings = readInboundEnv(env);
  const config = await loadInboundConfig(settings.config, env);
  if (config.forge.kind !== 'gitlab') {
    throw new PermanentError(
      'forge_unsupported',
      `forge.kind "${config.forge.kind}" is the local desk's forge; in AWS set forge.kind: gitlab and forge.url`,
    );
  }
  const s3 = options.clients?.s3 ?? new S3Client({});
  const secrets = createSecretSource(settings, options.clients, logger);
  const forge = createGitLabForge({
    url: config.forge.url,
    token: async () => (await secrets.get()).forge_token ?? '',
    onUnauthorized: async () => {
      await secrets.refresh();
    },
    logger,
    ...(options.gitlab ?? {}),
  });
  const store = new S3ObjectStore({
    client: s3,
    bucket: settings.bucket,
    kmsKeyId: settings.kmsKeyId,
    prefix: settings.statePrefix,
  });
  const clock = systemClock;
  const state = objectStoreState(store, { clock });
  // The pipeline's hook for GitLab's automatic mails (thank-you, new participant): queued for the
  // notify function, which sends them. Without a queue the desk still works, silently.
  const onDelivered =
    settings.outboundQueueUrl === undefined
      ? undefined
      : createOnDelivered({
          config,
          state,
          queue: createSqsNotifyQueue({
            client: options.clients?.sqs ?? new SQSClient({}),
            queueUrl: settings.outboundQueueUrl,
            store,
          }),
          clock,
          logger,
        });
  return {
    bucket: settings.bucket,
    deps: {
      config,
      rawStore: new S3RawMailStore({
        client: s3,
        bucket: settings.bucket,
        maxBytes: config.limits.max_raw_bytes,
      }),
      state,
      forge: timedForge(forge, metrics),
      secrets,
      clock,
      logger,
      ...(onDelivered === undefined ? {} : { onDelivered }),
    },
  };
};

const createSecretSource = (
  settings: InboundEnv,
  clients: InboundWiringOptions['clients'],
  logger: LambdaLogger,
): CachedSecretSource => {
  // Every value read is taught to the logger before anyone can log it.
  const onSecret = (secret: Parameters<typeof secretValues>[0]) =>
    logger.addSecretValues(secretValues(secret));
  if (settings.secret.kind === 'secrets-manager') {
    return new SecretsManagerSecretSource({
      client: clients?.secretsManager ?? new SecretsManagerClient({}),
      secretId: settings.secret.secretId,
      onSecret,
    });
  }
  return new KmsBlobSecretSource({
    client: clients?.kms ?? new KMSClient({}),
    ciphertext: settings.secret.ciphertext,
    keyId: settings.kmsKeyId,
    onSecret,
  });
};
