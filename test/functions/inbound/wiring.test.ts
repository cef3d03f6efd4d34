import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { GetObjectCommand, S3Client } from '@aws-sdk/client-s3';
import { GetSecretValueCommand, SecretsManagerClient } from '@aws-sdk/client-secrets-manager';
import { mockClient } from 'aws-sdk-client-mock';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { EnvironmentError } from '../../../adapters/aws/env.ts';
import { createLambdaLogger } from '../../../adapters/aws/logger.ts';
import { createDeskMetrics } from '../../../adapters/aws/metrics.ts';
import { S3RawMailStore } from '../../../adapters/aws/s3-raw-mail-store.ts';
import { ConfigError, PermanentError } from '../../../core/errors.ts';
import { createInboundWiring, loadInboundConfig, readInboundEnv } from '../../../functions/inbound/wiring.ts';
import { captureStdout } from '../../aws/log-capture.ts';
import { fakeBucket } from '../../aws/s3-fakes.ts';

const CONFIG = `domain: desk.example.com
forge:
  kind: gitlab
  url: https://gitlab.example.com
projects:
  - path: acme/game
    key: game
`;

const ENV = {
  POSTDESK_BUCKET: 'postdesk-desk',
  POSTDESK_KMS_KEY_ID: 'arn:aws:kms:eu-west-1:123456789012:key/k',
  POSTDESK_SECRET_ID: 'postdesk/desk',
  POSTDESK_CONFIG: CONFIG,
};

describe('readInboundEnv', () => {
  it('reads every variable', () => {
    // Act
    const env = readInboundEnv(ENV);

    // Assess
    expect(env).toEqual({
      bucket: 'postdesk-desk',
      kmsKeyId: 'arn:aws:kms:eu-west-1:123456789012:key/k',
      config: CONFIG,
      statePrefix: '',
      outboundQueueUrl: undefined,
      secret: { kind: 'secrets-manager', secretId: 'postdesk/desk' },
    });
  });

  it('takes the KMS blob when no secret id is set', () => {
    // Act
    const env = readInboundEnv({ ...ENV, POSTDESK_SECRET_ID: undefined, POSTDESK_SECRET_BLOB: 'AQID' });

    // Assess
    expect(env.secret).toEqual({ kind: 'kms-blob', ciphertext: 'AQID' });
  });

  it('names every missing variable in one error, with what it should hold', () => {
    // Act
    const error = (() => {
      try {
        readInboundEnv({ POSTDESK_BUCKET: '  ' });
      } catch (caught) {
        return caught;
      }
      return undefined;
    })();

    // Assess
    expect(error).toBeInstanceOf(EnvironmentError);
    expect((error as EnvironmentError).variables).toEqual([
      'POSTDESK_BUCKET',
      'POSTDESK_KMS_KEY_ID',
      'POSTDESK_CONFIG',
      'POSTDESK_SECRET_ID or POSTDESK_SECRET_BLOB',
    ]);
    expect((error as Error).message).toMatch(/POSTDESK_BUCKET: not set; set it to the desk bucket/);
    expect((error as Error).message).toMatch(/4 problems/);
  });

  it('refuses both secret variables at once', () => {
    expect(() => readInboundEnv({ ...ENV, POSTDESK_SECRET_BLOB: 'AQID' })).toThrow(
      /both are set; set only one/,
    );
  });
});

describe('loadInboundConfig', () => {
  it('parses YAML given inline', async () => {
    // Act
    const config = await loadInboundConfig(CONFIG, {});

    // Assess
    expect(config.projects[0]?.path).toBe('acme/game');
  });

  it('reads a path relative to the function code (LAMBDA_TASK_ROOT)', async () => {
    // Prepare
    const root = mkdtempSync(join(tmpdir(), 'postdesk-wiring-'));
    writeFileSync(join(root, 'postdesk.config.yaml'), CONFIG);

    // Act
    const config = await loadInboundConfig('postdesk.config.yaml', { LAMBDA_TASK_ROOT: root });

    // Assess
    expect(config.domain).toBe('desk.example.com');
  });

  it('says what to do when the bundled file is missing', async () => {
    // Act
    const attempt = loadInboundConfig('missing.yaml', { LAMBDA_TASK_ROOT: tmpdir() });

    // Assess
    await expect(attempt).rejects.toBeInstanceOf(PermanentError);
    await expect(attempt).rejects.toThrow(/bundle the file with the function, or put the YAML itself/);
  });

  it('reports config problems with the variable as the file name', async () => {
    // Act
    const attempt = loadInboundConfig('domain: desk.example.com\nprojects: []\n', {});

    // Assess
    await expect(attempt).rejects.toBeInstanceOf(ConfigError);
    await expect(attempt).rejects.toThrow(/^POSTDESK_CONFIG has/);
  });
});

describe('createInboundWiring', () => {
  const sm = mockClient(SecretsManagerClient);
  const s3 = mockClient(S3Client);
  let capture: ReturnType<typeof captureStdout>;
  beforeEach(() => {
    sm.reset();
    s3.reset();
    capture = captureStdout();
  });
  afterEach(() => capture.restore());

  it('builds the S3 stores, the secret source and the forge without reading the secret yet', async () => {
    // Prepare
    const logger = createLambdaLogger();
    const metrics = createDeskMetrics();

    fakeBucket(s3, 'postdesk-desk');

    // Act
    const wiring = await createInboundWiring({ env: ENV, logger, metrics });

    // Assess
    expect(wiring.bucket).toBe('postdesk-desk');
    // The state is on the desk bucket (an S3ObjectStore): a ticket read is a GetObject there.
    expect(await wiring.deps.state.tickets.get('acme/game', 1)).toBeUndefined();
    expect(s3.commandCalls(GetObjectCommand)[0]?.args[0].input).toMatchObject({
      Bucket: 'postdesk-desk',
      Key: 'tickets/acme/game/1.json',
    });
    expect(wiring.deps.rawStore).toBeInstanceOf(S3RawMailStore);
    expect(wiring.deps.forge.kind).toBe('gitlab');
    expect(sm.commandCalls(GetSecretValueCommand)).toHaveLength(0);
  });

  it('hooks automatic mail (thank-you) to the outbound queue only when one is configured', async () => {
    // Prepare
    const logger = createLambdaLogger();
    const metrics = createDeskMetrics();
    const queueUrl = 'https://sqs.us-east-1.amazonaws.com/123456789012/postdesk-outbound';

    // Act
    const without = await createInboundWiring({ env: ENV, logger, metrics });
    const withQueue = await createInboundWiring({
      env: { ...ENV, POSTDESK_OUTBOUND_QUEUE_URL: queueUrl },
      logger,
      metrics,
    });

    // Assess
    expect(without.deps.onDelivered).toBeUndefined();
    expect(typeof withQueue.deps.onDelivered).toBe('function');
  });

  it('teaches the logger every secret value as soon as the secret is read', async () => {
    // Prepare
    sm.on(GetSecretValueCommand).resolves({
      SecretString: 'forge_token: glpat-wired-secret-0001\nreply_key: reply-key-wired-00000001\n',
    });
    const logger = createLambdaLogger();
    const wiring = await createInboundWiring({ env: ENV, logger, metrics: createDeskMetrics() });

    // Act
    await wiring.deps.secrets.get();
    logger.info('token glpat-wired-secret-0001 and key reply-key-wired-00000001');

    // Assess
    expect(capture.lines.join('\n')).not.toMatch(/glpat-wired-secret-0001|reply-key-wired-00000001/);
  });

  it('refuses the local file forge, which cannot run in Lambda', async () => {
    // Prepare
    const env = {
      ...ENV,
      POSTDESK_CONFIG: CONFIG.replace(/forge:\n {2}kind: gitlab\n {2}url: \S+\n/, 'forge:\n  kind: file\n'),
    };

    // Act
    const attempt = createInboundWiring({ env, logger: createLambdaLogger(), metrics: createDeskMetrics() });

    // Assess
    await expect(attempt).rejects.toMatchObject({ code: 'forge_unsupported' });
  });
});
