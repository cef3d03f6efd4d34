import { DecryptCommand, KMSClient, KMSServiceException } from '@aws-sdk/client-kms';
import {
  GetSecretValueCommand,
  SecretsManagerClient,
  SecretsManagerServiceException,
} from '@aws-sdk/client-secrets-manager';
import { mockClient } from 'aws-sdk-client-mock';
import { beforeEach, describe, expect, it } from 'vitest';
import {
  KmsBlobSecretSource,
  SECRET_ENCRYPTION_CONTEXT,
  SecretsManagerSecretSource,
} from '../../adapters/aws/secret-source.ts';
import { PermanentError, TransientError } from '../../core/errors.ts';
import type { DeskSecret } from '../../core/ports.ts';

const SECRET_ID = 'postdesk/desk';
const KEY_ARN = 'arn:aws:kms:eu-west-1:123456789012:key/1234abcd-12ab-34cd-56ef-1234567890ab';
const V1 =
  'forge_token: glpat-secret-v1-aaaaaaaaaaaa\nwebhook_token: hook-secret-v1-bbbbbbbb\nreply_key: reply-key-v1-cccccccccccccccc\n';
const V2 = 'forge_token: glpat-secret-v2-dddddddddddd\n';

const sm = mockClient(SecretsManagerClient);
const kms = mockClient(KMSClient);

const smError = (name: string, status: number) =>
  new SecretsManagerServiceException({
    name,
    $fault: status >= 500 ? 'server' : 'client',
    $metadata: { httpStatusCode: status },
    message: `${name} (fake)`,
  });

const kmsError = (name: string, status: number) =>
  new KMSServiceException({
    name,
    $fault: status >= 500 ? 'server' : 'client',
    $metadata: { httpStatusCode: status },
    message: `${name} (fake)`,
  });

describe('SecretsManagerSecretSource', () => {
  beforeEach(() => sm.reset());

  it('reads the secret once and serves it from memory', async () => {
    // Prepare
    sm.on(GetSecretValueCommand).resolves({ SecretString: V1 });
    const seen: DeskSecret[] = [];
    const source = new SecretsManagerSecretSource({
      client: new SecretsManagerClient({}),
      secretId: SECRET_ID,
      onSecret: (secret) => seen.push(secret),
    });

    // Act
    const [a, b] = await Promise.all([source.get(), source.get()]);
    const c = await source.get();

    // Assess
    expect(a).toEqual({
      forge_token: 'glpat-secret-v1-aaaaaaaaaaaa',
      webhook_token: 'hook-secret-v1-bbbbbbbb',
      reply_key: 'reply-key-v1-cccccccccccccccc',
    });
    expect(b).toBe(a);
    expect(c).toBe(a);
    expect(sm.commandCalls(GetSecretValueCommand)).toHaveLength(1);
    expect(sm.commandCalls(GetSecretValueCommand)[0]?.args[0].input).toEqual({ SecretId: SECRET_ID });
    expect(seen).toHaveLength(1);
  });

  it('re-reads on refresh() and serves the new value afterwards', async () => {
    // Prepare
    sm.on(GetSecretValueCommand).resolvesOnce({ SecretString: V1 }).resolvesOnce({ SecretString: V2 });
    const source = new SecretsManagerSecretSource({
      client: new SecretsManagerClient({}),
      secretId: SECRET_ID,
    });
    await source.get();

    // Act
    const refreshed = await source.refresh();
    const after = await source.get();

    // Assess
    expect(refreshed).toEqual({ forge_token: 'glpat-secret-v2-dddddddddddd' });
    expect(after).toBe(refreshed);
    expect(sm.commandCalls(GetSecretValueCommand)).toHaveLength(2);
  });

  it('shares one read between concurrent refreshes (several 401s at once)', async () => {
    // Prepare
    sm.on(GetSecretValueCommand).resolves({ SecretString: V2 });
    const source = new SecretsManagerSecretSource({
      client: new SecretsManagerClient({}),
      secretId: SECRET_ID,
    });

    // Act
    await Promise.all([source.refresh(), source.refresh(), source.refresh()]);

    // Assess
    expect(sm.commandCalls(GetSecretValueCommand)).toHaveLength(1);
  });

  it('keeps the previous secret when a refresh fails', async () => {
    // Prepare
    sm.on(GetSecretValueCommand)
      .resolvesOnce({ SecretString: V1 })
      .rejectsOnce(smError('InternalServiceError', 500));
    const source = new SecretsManagerSecretSource({
      client: new SecretsManagerClient({}),
      secretId: SECRET_ID,
    });
    const first = await source.get();

    // Act
    const refresh = source.refresh();

    // Assess
    await expect(refresh).rejects.toBeInstanceOf(TransientError);
    expect(await source.get()).toBe(first);
  });

  it('does not cache a failed first read', async () => {
    // Prepare
    sm.on(GetSecretValueCommand)
      .rejectsOnce(smError('ThrottlingException', 400))
      .resolvesOnce({ SecretString: V1 });
    const source = new SecretsManagerSecretSource({
      client: new SecretsManagerClient({}),
      secretId: SECRET_ID,
    });

    // Act
    const first = source.get();
    await expect(first).rejects.toBeInstanceOf(TransientError);
    const second = await source.get();

    // Assess
    expect(second.forge_token).toBe('glpat-secret-v1-aaaaaaaaaaaa');
  });

  it('says how to create a missing secret', async () => {
    // Prepare
    sm.on(GetSecretValueCommand).rejects(smError('ResourceNotFoundException', 400));
    const source = new SecretsManagerSecretSource({
      client: new SecretsManagerClient({}),
      secretId: SECRET_ID,
    });

    // Act
    const attempt = source.get();

    // Assess
    await expect(attempt).rejects.toBeInstanceOf(PermanentError);
    await expect(attempt).rejects.toThrow(/postdesk secret write --backend aws --secret-id postdesk\/desk/);
  });

  it('reports an invalid document without any of its text', async () => {
    // Prepare
    const text = 'forge_token: glpat-leaky-value-1234\nnot_a_key: glpat-other-value-5678\nreply_key: short\n';
    sm.on(GetSecretValueCommand).resolves({ SecretString: text });
    const source = new SecretsManagerSecretSource({
      client: new SecretsManagerClient({}),
      secretId: SECRET_ID,
    });

    // Act
    const error = await source.get().catch((caught: unknown) => caught);

    // Assess
    expect(error).toBeInstanceOf(PermanentError);
    const message = (error as Error).message;
    expect(message).toMatch(/unknown key "not_a_key"/);
    expect(message).toMatch(/reply_key is 5 characters/);
    for (const value of ['glpat-leaky-value-1234', 'glpat-other-value-5678', 'short']) {
      expect(message).not.toContain(value);
    }
  });
});

describe('KmsBlobSecretSource', () => {
  beforeEach(() => kms.reset());
  const ciphertext = Buffer.from('opaque-ciphertext-from-kms').toString('base64');

  it('decrypts with the encryption context and the desk key, once', async () => {
    // Prepare
    kms.on(DecryptCommand).resolves({ Plaintext: new TextEncoder().encode(V1), KeyId: KEY_ARN });
    const source = new KmsBlobSecretSource({ client: new KMSClient({}), ciphertext, keyId: KEY_ARN });

    // Act
    const secret = await source.get();
    await source.get();

    // Assess
    expect(secret.webhook_token).toBe('hook-secret-v1-bbbbbbbb');
    const calls = kms.commandCalls(DecryptCommand);
    expect(calls).toHaveLength(1);
    expect(calls[0]?.args[0].input).toEqual({
      CiphertextBlob: Buffer.from(ciphertext, 'base64'),
      EncryptionContext: { purpose: 'postdesk-desk-secret' },
      KeyId: KEY_ARN,
    });
    expect(SECRET_ENCRYPTION_CONTEXT).toEqual({ purpose: 'postdesk-desk-secret' });
  });

  it('re-decrypts on refresh()', async () => {
    // Prepare
    kms.on(DecryptCommand).resolves({ Plaintext: new TextEncoder().encode(V1) });
    const source = new KmsBlobSecretSource({ client: new KMSClient({}), ciphertext });
    await source.get();

    // Act
    await source.refresh();

    // Assess
    expect(kms.commandCalls(DecryptCommand)).toHaveLength(2);
  });

  it('explains a blob encrypted without the context (InvalidCiphertextException)', async () => {
    // Prepare
    kms.on(DecryptCommand).rejects(kmsError('InvalidCiphertextException', 400));
    const source = new KmsBlobSecretSource({ client: new KMSClient({}), ciphertext });

    // Act
    const attempt = source.get();

    // Assess
    await expect(attempt).rejects.toBeInstanceOf(PermanentError);
    await expect(attempt).rejects.toThrow(/purpose=postdesk-desk-secret/);
  });

  it('refuses text that is not base64 without calling KMS', async () => {
    // Prepare
    const source = new KmsBlobSecretSource({ client: new KMSClient({}), ciphertext: 'forge_token: oops' });

    // Act
    const attempt = source.get();

    // Assess
    await expect(attempt).rejects.toMatchObject({ code: 'secret_blob_invalid' });
    expect(kms.commandCalls(DecryptCommand)).toHaveLength(0);
  });

  it('makes a KMS outage transient', async () => {
    // Prepare
    kms.on(DecryptCommand).rejects(kmsError('KMSInternalException', 500));
    const source = new KmsBlobSecretSource({ client: new KMSClient({}), ciphertext });

    // Act
    const attempt = source.get();

    // Assess
    await expect(attempt).rejects.toBeInstanceOf(TransientError);
  });
});
