import { DecryptCommand, type KMSClient } from '@aws-sdk/client-kms';
import { GetSecretValueCommand, type SecretsManagerClient } from '@aws-sdk/client-secrets-manager';
import { PermanentError } from '../../core/errors.ts';
import type { DeskSecret, SecretSource } from '../../core/ports.ts';
import { toPostdeskError } from './errors.ts';
import { parseDeskSecretOrThrow } from './secret-document.ts';

/**
 * The desk secret in AWS: read once per cold start, kept in memory, re-read on demand (after a
 * forge 401, i.e. a rotated token). Two stores: a Secrets Manager secret under the desk's KMS key
 * (the default, what `postdesk secret write --backend aws` writes), or a KMS-encrypted blob in the
 * function's environment for desks that want no Secrets Manager secret at all.
 *
 * The base class holds the caching policy; a store implements one primitive, `fetchText`.
 */

/** Encryption context bound to every KMS-encrypted desk secret blob: a ciphertext made for anything else does not decrypt as one. */
export const SECRET_ENCRYPTION_CONTEXT = { purpose: 'postdesk-desk-secret' } as const;

export interface CachedSecretSourceOptions {
  /** Called with every secret read (first read and refreshes), e.g. to teach the logger what to redact. */
  onSecret?: ((secret: DeskSecret) => void) | undefined;
}

export abstract class CachedSecretSource implements SecretSource {
  #cached: Promise<DeskSecret> | undefined;
  #refreshing: Promise<DeskSecret> | undefined;
  readonly #onSecret: ((secret: DeskSecret) => void) | undefined;

  constructor(options: CachedSecretSourceOptions = {}) {
    this.#onSecret = options.onSecret;
  }

  /** Where the secret lives, for messages: `Secrets Manager secret postdesk/desk`. */
  protected abstract readonly origin: string;
  /** Reads the secret document's text from the store. */
  protected abstract fetchText(): Promise<string>;

  get(): Promise<DeskSecret> {
    if (this.#cached === undefined) {
      const loading = this.#load();
      this.#cached = loading;
      // A failed first read must not stick: the next mail tries again.
      loading.catch(() => {
        if (this.#cached === loading) this.#cached = undefined;
      });
    }
    return this.#cached;
  }

  refresh(): Promise<DeskSecret> {
    // Several records meeting the same 401 at once share one read.
    if (this.#refreshing !== undefined) return this.#refreshing;
    const loading = this.#load();
    this.#refreshing = loading;
    loading.then(
      () => {
        this.#cached = loading;
        this.#refreshing = undefined;
      },
      () => {
        // Keep serving the previous secret; the caller sees this failure.
        this.#refreshing = undefined;
      },
    );
    return loading;
  }

  async #load(): Promise<DeskSecret> {
    const text = await this.fetchText();
    const secret = parseDeskSecretOrThrow(text, this.origin);
    this.#onSecret?.(secret);
    return secret;
  }
}

export interface SecretsManagerSecretSourceOptions extends CachedSecretSourceOptions {
  client: SecretsManagerClient;
  /** Secret name or ARN. */
  secretId: string;
}

export class SecretsManagerSecretSource extends CachedSecretSource {
  protected readonly origin: string;
  readonly #client: SecretsManagerClient;
  readonly #secretId: string;

  constructor(options: SecretsManagerSecretSourceOptions) {
    super(options);
    this.#client = options.client;
    this.#secretId = options.secretId;
    this.origin = `Secrets Manager secret ${options.secretId}`;
  }

  protected async fetchText(): Promise<string> {
    try {
      const output = await this.#client.send(new GetSecretValueCommand({ SecretId: this.#secretId }));
      if (output.SecretString !== undefined) return output.SecretString;
      if (output.SecretBinary !== undefined) return Buffer.from(output.SecretBinary).toString('utf8');
      throw new PermanentError(
        'secret_empty',
        `${this.origin} has no value: write one with postdesk secret write`,
      );
    } catch (error) {
      if (isNamed(error, 'ResourceNotFoundException')) {
        throw new PermanentError(
          'secret_missing',
          `${this.origin} does not exist: create it with \`postdesk secret write --backend aws --secret-id ${this.#secretId} --kms-key-id <desk key>\``,
          { cause: error },
        );
      }
      throw toPostdeskError(
        error,
        `reading ${this.origin}`,
        "check the function's role may read the secret (secretsmanager:GetSecretValue) and decrypt with the desk key (kms:Decrypt)",
        { transient: 'secret_unavailable', permanent: 'secret_denied' },
      );
    }
  }
}

export interface KmsBlobSecretSourceOptions extends CachedSecretSourceOptions {
  client: KMSClient;
  /** The ciphertext, base64, as `aws kms encrypt ... --output text --query CiphertextBlob` prints it. */
  ciphertext: string;
  /** The desk key; when given, KMS refuses a blob encrypted under any other key. */
  keyId?: string | undefined;
}

export class KmsBlobSecretSource extends CachedSecretSource {
  protected readonly origin = 'the KMS-encrypted secret blob (POSTDESK_SECRET_BLOB)';
  readonly #client: KMSClient;
  readonly #ciphertext: string;
  readonly #keyId: string | undefined;

  constructor(options: KmsBlobSecretSourceOptions) {
    super(options);
    this.#client = options.client;
    this.#ciphertext = options.ciphertext.replace(/\s+/g, '');
    this.#keyId = options.keyId;
  }

  protected async fetchText(): Promise<string> {
    if (!/^[A-Za-z0-9+/]+={0,2}$/.test(this.#ciphertext)) {
      throw new PermanentError('secret_blob_invalid', `${this.origin} is not base64 ciphertext`);
    }
    try {
      const output = await this.#client.send(
        new DecryptCommand({
          CiphertextBlob: Buffer.from(this.#ciphertext, 'base64'),
          EncryptionContext: { ...SECRET_ENCRYPTION_CONTEXT },
          ...(this.#keyId === undefined ? {} : { KeyId: this.#keyId }),
        }),
      );
      if (output.Plaintext === undefined) {
        throw new PermanentError('secret_blob_invalid', `KMS returned no plaintext for ${this.origin}`);
      }
      return Buffer.from(output.Plaintext).toString('utf8');
    } catch (error) {
      if (isNamed(error, 'InvalidCiphertextException') || isNamed(error, 'IncorrectKeyException')) {
        throw new PermanentError(
          'secret_blob_invalid',
          `${this.origin} does not decrypt: encrypt it under the desk key with --encryption-context purpose=${SECRET_ENCRYPTION_CONTEXT.purpose} (see docs/SECRET.md)`,
          { cause: error },
        );
      }
      throw toPostdeskError(
        error,
        `decrypting ${this.origin}`,
        "check the function's role may use the desk key (kms:Decrypt)",
        { transient: 'secret_unavailable', permanent: 'secret_denied' },
      );
    }
  }
}

const isNamed = (error: unknown, name: string): boolean =>
  typeof error === 'object' && error !== null && (error as { name?: unknown }).name === name;
