import { KMSClient } from '@aws-sdk/client-kms';
import { S3Client } from '@aws-sdk/client-s3';
import { SecretsManagerClient } from '@aws-sdk/client-secrets-manager';
import { SESv2Client } from '@aws-sdk/client-sesv2';
import { EnvironmentError, readEnv } from '../../adapters/aws/env.ts';
import type { LambdaLogger } from '../../adapters/aws/logger.ts';
import { S3ObjectStore } from '../../adapters/aws/s3-object-store.ts';
import { secretValues } from '../../adapters/aws/secret-document.ts';
import {
  type CachedSecretSource,
  KmsBlobSecretSource,
  SecretsManagerSecretSource,
} from '../../adapters/aws/secret-source.ts';
import { SesMailer } from '../../adapters/aws/ses-mailer.ts';
import { createGitLabForge, type GitLabForgeOptions } from '../../adapters/forges/gitlab/index.ts';
import type { DeskConfig } from '../../core/config/schema.ts';
import { PermanentError } from '../../core/errors.ts';
import { createNotifier, type NotifyDeps, type SendNotification } from '../../core/outbound/notify.ts';
import type { Clock, ObjectStore } from '../../core/ports.ts';
import { systemClock } from '../../core/ports.ts';
import { type DeskState, objectStoreState } from '../../core/state/index.ts';
import { INBOUND_SECRET_ENV, loadInboundConfig } from '../inbound/wiring.ts';
import { createGitLabUploadFetcher } from './upload-fetcher.ts';

/**
 * What the notify function builds once per cold start. The environment is checked whole, every
 * problem in one error. Shared with the webhook function: `readDeskEnv` and `createDeskState`.
 */

/** Variables both outbound functions read. */
export const DESK_ENV = {
  POSTDESK_BUCKET: { description: 'the desk bucket (state under tickets/, msgid/, ratelimit/, outbox/)' },
  POSTDESK_KMS_KEY_ID: {
    description: 'the desk KMS key ARN; every object written is encrypted with it (SSE-KMS)',
  },
  POSTDESK_CONFIG: {
    description: 'the postdesk.config.yaml text itself, or the path of that file in the bundle',
  },
  POSTDESK_STATE_PREFIX: { description: 'a prefix for state keys', default: '' },
} as const;

export const NOTIFY_ENV = {
  ...DESK_ENV,
  AWS_REGION: { description: 'the region SES sends from (Lambda sets it)' },
  POSTDESK_SES_CONFIGURATION_SET: {
    description:
      'an SES configuration set to send with (its event destination publishes bounces and complaints)',
    default: '',
  },
  POSTDESK_SYSTEM_HEADER: { description: 'text for %{SYSTEM_HEADER} in every mail', default: '' },
  POSTDESK_SYSTEM_FOOTER: { description: 'text for %{SYSTEM_FOOTER} in every mail', default: '' },
  POSTDESK_ADDITIONAL_TEXT: { description: 'text for %{ADDITIONAL_TEXT} in every mail', default: '' },
} as const;

export interface DeskEnv {
  bucket: string;
  kmsKeyId: string;
  config: string;
  statePrefix: string;
  secret: { kind: 'secrets-manager'; secretId: string } | { kind: 'kms-blob'; ciphertext: string };
}

/** Which secret store the environment names; both at once is refused. */
export const secretOf = (secretId: string | undefined, blob: string | undefined): DeskEnv['secret'] => {
  if (secretId !== undefined && blob !== undefined) {
    throw new EnvironmentError([
      {
        name: 'POSTDESK_SECRET_ID and POSTDESK_SECRET_BLOB',
        message: 'both are set; set only one, so there is no doubt which secret the desk runs with',
      },
    ]);
  }
  return secretId !== undefined
    ? { kind: 'secrets-manager', secretId }
    : { kind: 'kms-blob', ciphertext: blob ?? '' };
};

export interface NotifyEnv extends DeskEnv {
  region: string;
  configurationSet: string | undefined;
  appearance: { systemHeader: string; systemFooter: string; additionalText: string };
}

export const readNotifyEnv = (env: NodeJS.ProcessEnv): NotifyEnv => {
  const values = readEnv(env, NOTIFY_ENV, [INBOUND_SECRET_ENV]);
  return {
    bucket: values.POSTDESK_BUCKET,
    kmsKeyId: values.POSTDESK_KMS_KEY_ID,
    config: values.POSTDESK_CONFIG,
    statePrefix: values.POSTDESK_STATE_PREFIX,
    secret: secretOf(values.POSTDESK_SECRET_ID, values.POSTDESK_SECRET_BLOB),
    region: values.AWS_REGION,
    configurationSet: values.POSTDESK_SES_CONFIGURATION_SET || undefined,
    appearance: {
      systemHeader: values.POSTDESK_SYSTEM_HEADER,
      systemFooter: values.POSTDESK_SYSTEM_FOOTER,
      additionalText: values.POSTDESK_ADDITIONAL_TEXT,
    },
  };
};

export interface DeskClients {
  s3?: S3Client | undefined;
  secretsManager?: SecretsManagerClient | undefined;
  kms?: KMSClient | undefined;
}

/**
 * The bucket's object store (job bodies under `outbox/`), the desk's state on it (on `clock`), and
 * the secret source, as the inbound function builds them.
 */
export const createDeskState = (
  settings: DeskEnv,
  clients: DeskClients | undefined,
  logger: LambdaLogger,
  clock: Clock,
): { store: ObjectStore; state: DeskState; secrets: CachedSecretSource } => {
  const store = new S3ObjectStore({
    client: clients?.s3 ?? new S3Client({}),
    bucket: settings.bucket,
    kmsKeyId: settings.kmsKeyId,
    prefix: settings.statePrefix,
  });
  // Every value read is taught to the logger before anyone can log it.
  const onSecret = (secret: Parameters<typeof secretValues>[0]) =>
    logger.addSecretValues(secretValues(secret));
  const secrets =
    settings.secret.kind === 'secrets-manager'
      ? new SecretsManagerSecretSource({
          client: clients?.secretsManager ?? new SecretsManagerClient({}),
          secretId: settings.secret.secretId,
          onSecret,
        })
      : new KmsBlobSecretSource({
          client: clients?.kms ?? new KMSClient({}),
          ciphertext: settings.secret.ciphertext,
          keyId: settings.kmsKeyId,
          onSecret,
        });
  return { store, state: objectStoreState(store, { clock }), secrets };
};

/** The GitLab-only check both outbound functions make: the file forge is local mode's. */
export const requireGitLab = (config: DeskConfig): Extract<DeskConfig['forge'], { kind: 'gitlab' }> => {
  if (config.forge.kind !== 'gitlab') {
    throw new PermanentError(
      'forge_unsupported',
      `forge.kind "${config.forge.kind}" is the local desk's forge; in AWS set forge.kind: gitlab and forge.url`,
    );
  }
  return config.forge;
};

export interface NotifyWiring {
  deps: NotifyDeps;
  send: SendNotification;
  /** Where oversized job bodies wait (`outbox/jobs/`, core/outbound/jobs.ts). */
  jobs: ObjectStore;
}

export interface NotifyWiringOptions {
  env: NodeJS.ProcessEnv;
  logger: LambdaLogger;
  clients?: (DeskClients & { ses?: SESv2Client | undefined }) | undefined;
  gitlab?: Pick<GitLabForgeOptions, 'retry' | 'timeoutMs' | 'connectTimeoutMs'> | undefined;
  /** For tests: fetch used to download note uploads. */
  fetch?: typeof fetch | undefined;
}

export const createNotifyWiring = async (options: NotifyWiringOptions): Promise<NotifyWiring> => {
  const { env, logger } = options;
  const settings = readNotifyEnv(env);
  const config = await loadInboundConfig(settings.config, env);
  const forgeConfig = requireGitLab(config);
  const clock = systemClock;
  const { store, state, secrets } = createDeskState(settings, options.clients, logger, clock);
  const token = async () => (await secrets.get()).forge_token ?? '';
  const forge = createGitLabForge({
    url: forgeConfig.url,
    token,
    onUnauthorized: async () => {
      await secrets.refresh();
    },
    logger,
    ...(options.gitlab ?? {}),
  });
  const deps: NotifyDeps = {
    config,
    state,
    forge,
    mailer: new SesMailer({
      client: options.clients?.ses ?? new SESv2Client({}),
      region: settings.region,
      configurationSetName: settings.configurationSet,
    }),
    secrets,
    clock,
    logger,
    fetchUpload: createGitLabUploadFetcher({ url: forgeConfig.url, token, fetch: options.fetch }),
    appearance: settings.appearance,
  };
  return { deps, send: createNotifier(deps), jobs: store };
};
