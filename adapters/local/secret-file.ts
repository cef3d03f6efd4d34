import { createCipheriv, createDecipheriv, randomBytes } from 'node:crypto';
import { chmod, link, mkdir, open, readFile, rename, rm } from 'node:fs/promises';
import { join } from 'node:path';
import { cachedOnce } from '../../core/cached-once.ts';
import { PermanentError } from '../../core/errors.ts';
import type { DeskSecret, SecretSource } from '../../core/ports.ts';
import { parseDeskSecretOrThrow } from '../aws/secret-document.ts';

/**
 * The desk secret on a developer's machine: `<data dir>/secret.enc`, AES-256-GCM under a 32-byte
 * master key, the local counterpart of GitLab's encrypted `service_desk_email.yaml.enc` and of the
 * Secrets Manager secret in AWS. The key comes from `POSTDESK_MASTER_KEY` (so CI can hold it) or
 * from `<data dir>/master.key`, created with mode 0600 on first write.
 *
 * File format (JSON, so a person can see what it is without being able to read it):
 *
 *     {"format":"postdesk-secret","version":1,"alg":"aes-256-gcm","iv":"<b64>","tag":"<b64>","data":"<b64>"}
 *
 * The additional authenticated data binds the ciphertext to its purpose and format version.
 */

export const SECRET_FILE_NAME = 'secret.enc';
export const MASTER_KEY_FILE_NAME = 'master.key';
export const MASTER_KEY_ENV = 'POSTDESK_MASTER_KEY';

const FORMAT = 'postdesk-secret';
const VERSION = 1;
const ALGORITHM = 'aes-256-gcm';
const AAD = Buffer.from(`postdesk-desk-secret\0v${VERSION}`);
const KEY_BYTES = 32;
const IV_BYTES = 12;

export interface LocalSecretFileOptions {
  /** The data dir (`cli/io.ts` `dataDir`), e.g. `./.postdesk`. */
  dataDir: string;
  /** Where `POSTDESK_MASTER_KEY` is read. @default process.env */
  env?: NodeJS.ProcessEnv | undefined;
}

interface MasterKey {
  key: Buffer;
  /** `POSTDESK_MASTER_KEY` or the key file's path, for messages. */
  source: string;
}

/**
 * Decodes a 32-byte key written as 64 hex digits or as base64 (standard or URL-safe). Errors say
 * which forms are accepted and what was wrong with the length, never the text itself.
 */
export const decodeMasterKey = (text: string, source: string): Buffer => {
  const value = text.trim();
  if (/^[0-9a-fA-F]{64}$/.test(value)) return Buffer.from(value, 'hex');
  if (/^[A-Za-z0-9+/_-]+={0,2}$/.test(value)) {
    const bytes = Buffer.from(value.replace(/-/g, '+').replace(/_/g, '/'), 'base64');
    if (bytes.length === KEY_BYTES) return bytes;
    throw new PermanentError(
      'master_key_invalid',
      `${source} must be a 32-byte key written as base64 (44 characters) or as hex (64 digits); it decodes as base64 to ${bytes.length} bytes. Generate one with: openssl rand -base64 32`,
    );
  }
  throw new PermanentError(
    'master_key_invalid',
    `${source} must be a 32-byte key written as base64 (44 characters) or as hex (64 digits); it is ${value.length} characters and neither. Generate one with: openssl rand -base64 32`,
  );
};

export class LocalSecretFile {
  /** The encrypted secret. */
  readonly path: string;
  /** The master key file, used when `POSTDESK_MASTER_KEY` is not set. */
  readonly keyPath: string;
  readonly #dataDir: string;
  readonly #env: NodeJS.ProcessEnv;

  constructor(options: LocalSecretFileOptions) {
    this.#dataDir = options.dataDir;
    this.#env = options.env ?? process.env;
    this.path = join(options.dataDir, SECRET_FILE_NAME);
    this.keyPath = join(options.dataDir, MASTER_KEY_FILE_NAME);
  }

  /** The decrypted document text, or undefined when no secret has been written yet. */
  async readText(): Promise<string | undefined> {
    const raw = await readOptional(this.path);
    if (raw === undefined) return undefined;
    const key = await this.#masterKey(false);
    if (key === undefined) {
      throw new PermanentError(
        'master_key_missing',
        `${this.path} exists but its master key does not: set ${MASTER_KEY_ENV} or restore ${this.keyPath}`,
      );
    }
    return decrypt(raw.toString('utf8'), key, this.path);
  }

  /** Encrypts and writes the text atomically (mode 0600), creating the master key on first use. */
  async writeText(text: string): Promise<void> {
    await this.#writeEncrypted(text, (temp) => rename(temp, this.path));
  }

  /**
   * Like `writeText`, but only when no secret exists yet: the file is linked into place, which fails
   * when another process (or a person) wrote one first. Returns false, changing nothing, then.
   */
  async createText(text: string): Promise<boolean> {
    let created = true;
    await this.#writeEncrypted(text, async (temp) => {
      try {
        await link(temp, this.path);
      } catch (error) {
        if ((error as NodeJS.ErrnoException).code !== 'EEXIST') throw error;
        created = false;
      }
      await rm(temp, { force: true });
    });
    return created;
  }

  async #writeEncrypted(text: string, place: (temp: string) => Promise<void>): Promise<void> {
    const key = await this.#masterKey(true);
    if (key === undefined) throw new Error('unreachable: master key not created');
    await mkdir(this.#dataDir, { recursive: true, mode: 0o700 });
    const temp = `${this.path}.${process.pid}.${randomBytes(4).toString('hex')}.tmp`;
    try {
      const handle = await open(temp, 'wx', 0o600);
      try {
        await handle.writeFile(encrypt(text, key.key));
        await handle.sync();
      } finally {
        await handle.close();
      }
      await place(temp);
    } catch (error) {
      await rm(temp, { force: true });
      throw error;
    }
  }

  /** `POSTDESK_MASTER_KEY`, else the key file; with `create`, a new key file when neither exists. */
  async #masterKey(create: boolean): Promise<MasterKey | undefined> {
    const fromEnv = this.#env[MASTER_KEY_ENV];
    if (fromEnv !== undefined && fromEnv.trim() !== '') {
      return { key: decodeMasterKey(fromEnv, MASTER_KEY_ENV), source: MASTER_KEY_ENV };
    }
    const existing = await readOptional(this.keyPath);
    if (existing !== undefined) {
      return { key: decodeMasterKey(existing.toString('utf8'), this.keyPath), source: this.keyPath };
    }
    if (!create) return undefined;
    await mkdir(this.#dataDir, { recursive: true, mode: 0o700 });
    const key = randomBytes(KEY_BYTES);
    try {
      // `wx`: if another process created the key a moment ago, use theirs rather than overwrite it.
      const handle = await open(this.keyPath, 'wx', 0o600);
      try {
        await handle.writeFile(`${key.toString('base64')}\n`);
      } finally {
        await handle.close();
      }
      await chmod(this.keyPath, 0o600);
      return { key, source: this.keyPath };
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code !== 'EEXIST') throw error;
      return this.#masterKey(false);
    }
  }
}

const readOptional = async (path: string): Promise<Buffer | undefined> => {
  try {
    return await readFile(path);
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
    throw error;
  }
};

const encrypt = (text: string, key: Buffer): string => {
  const iv = randomBytes(IV_BYTES);
  const cipher = createCipheriv(ALGORITHM, key, iv);
  cipher.setAAD(AAD);
  const data = Buffer.concat([cipher.update(text, 'utf8'), cipher.final()]);
  return `${JSON.stringify({
    format: FORMAT,
    version: VERSION,
    alg: ALGORITHM,
    iv: iv.toString('base64'),
    tag: cipher.getAuthTag().toString('base64'),
    data: data.toString('base64'),
  })}\n`;
};

const decrypt = (fileText: string, key: MasterKey, path: string): string => {
  let envelope: { format?: unknown; version?: unknown; iv?: unknown; tag?: unknown; data?: unknown };
  try {
    envelope = JSON.parse(fileText) as typeof envelope;
  } catch {
    throw new PermanentError('secret_file_invalid', `${path} is not a Postdesk secret file (not JSON)`);
  }
  if (
    envelope.format !== FORMAT ||
    envelope.version !== VERSION ||
    typeof envelope.iv !== 'string' ||
    typeof envelope.tag !== 'string' ||
    typeof envelope.data !== 'string'
  ) {
    throw new PermanentError(
      'secret_file_invalid',
      `${path} is not a Postdesk secret file of version ${VERSION} (missing or unknown fields)`,
    );
  }
  try {
    const decipher = createDecipheriv(ALGORITHM, key.key, Buffer.from(envelope.iv, 'base64'));
    decipher.setAAD(AAD);
    decipher.setAuthTag(Buffer.from(envelope.tag, 'base64'));
    return Buffer.concat([decipher.update(Buffer.from(envelope.data, 'base64')), decipher.final()]).toString(
      'utf8',
    );
  } catch {
    throw new PermanentError(
      'secret_undecryptable',
      `${path} cannot be decrypted with the master key from ${key.source}: wrong key, or the file was altered`,
    );
  }
};

/**
 * The local desk's SecretSource: the file read once, cached, re-read on `refresh()`. A desk with no
 * secret file yet gets an empty secret (the file forge needs no token); `onSecret` sees every read.
 */
export const createLocalSecretSource = (
  options: LocalSecretFileOptions & { onSecret?: ((secret: DeskSecret) => void) | undefined },
): SecretSource => {
  const file = new LocalSecretFile(options);
  const load = async (): Promise<DeskSecret> => {
    const text = await file.readText();
    const secret = text === undefined ? {} : parseDeskSecretOrThrow(text, file.path);
    options.onSecret?.(secret);
    return secret;
  };
  // Read once and shared; a failed read is forgotten (core/cached-once.ts). A refresh that
  // succeeds replaces the cache; one that fails leaves the last good secret in place.
  let cached = cachedOnce(load);
  return {
    get: () => cached(),
    async refresh() {
      const fresh = cachedOnce(load);
      const secret = await fresh();
      cached = fresh;
      return secret;
    },
  };
};

/** A random token for the local secret: 32 bytes, base64url (43 characters). */
const randomToken = (): string => randomBytes(32).toString('base64url');

/**
 * The local desk's first run: when no secret exists, writes one with a random `webhook_token` and
 * `reply_key` (mode 0600, as `postdesk secret write` does), so reply addresses carry a token and the
 * webhook is protected from the first mail. An existing secret is never read or changed.
 */
export const ensureLocalSecret = async (
  options: LocalSecretFileOptions,
): Promise<{ created: boolean; path: string }> => {
  const file = new LocalSecretFile(options);
  if ((await readOptional(file.path)) !== undefined) return { created: false, path: file.path };
  const text = [
    '# The local desk secret, created by `postdesk serve` on its first run.',
    '# Edit it with `postdesk secret edit`; add forge_token to deliver to a real GitLab.',
    `webhook_token: ${randomToken()}`,
    `reply_key: ${randomToken()}`,
    '',
  ].join('\n');
  return { created: await file.createText(text), path: file.path };
};
