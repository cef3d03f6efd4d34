import { setTimeout as sleep } from 'node:timers/promises';
import {
  DeleteObjectCommand,
  GetObjectCommand,
  ListObjectsV2Command,
  type ListObjectsV2CommandOutput,
  PutObjectCommand,
  type PutObjectCommandInput,
  type S3Client,
} from '@aws-sdk/client-s3';
import { backoffDelay } from '../../core/backoff.ts';
import { TransientError } from '../../core/errors.ts';
import type { ObjectStore, StoredObject } from '../../core/ports.ts';
import { hasStatus, toPostdeskError } from './errors.ts';

/**
 * The state store on S3: ledger entries, ticket records, quarantine entries and counters, all small
 * JSON objects in the desk's bucket, encrypted with the desk's KMS key. Conditional writes are S3's
 * own (GA 2024): `If-None-Match: *` creates only if absent, `If-Match: <etag>` replaces only if
 * unchanged; both answer 412 when the condition fails. A 409 ConditionalRequestConflict means
 * another conditional write on the same key was in flight: the outcome is unknown, so the write is
 * retried as is (a second 412 then says who won).
 * (reference/aws-ses-inbound.md §5; S3 User Guide, "conditional writes")
 */
export interface S3ObjectStoreOptions {
  client: S3Client;
  bucket: string;
  /** The desk key (ARN or id) every object is encrypted with (SSE-KMS). */
  kmsKeyId: string;
  /** Prepended to every key, e.g. `state/`. @default '' */
  prefix?: string | undefined;
  /** Attempts for a write that meets 409 ConditionalRequestConflict before giving up. @default 4 */
  conflictAttempts?: number | undefined;
  /** Base delay between those attempts, doubled each time, with jitter. @default 50 */
  conflictDelayMs?: number | undefined;
}

const DEFAULT_CONFLICT_ATTEMPTS = 4;
const DEFAULT_CONFLICT_DELAY_MS = 50;

type Condition = { kind: 'none' } | { kind: 'absent' } | { kind: 'match'; etag: string };

export class S3ObjectStore implements ObjectStore {
  readonly #client: S3Client;
  readonly #bucket: string;
  readonly #kmsKeyId: string;
  readonly #prefix: string;
  readonly #conflictAttempts: number;
  readonly #conflictDelayMs: number;

  constructor(options: S3ObjectStoreOptions) {
    this.#client = options.client;
    this.#bucket = options.bucket;
    this.#kmsKeyId = options.kmsKeyId;
    this.#prefix = options.prefix ?? '';
    this.#conflictAttempts = Math.max(1, options.conflictAttempts ?? DEFAULT_CONFLICT_ATTEMPTS);
    this.#conflictDelayMs = options.conflictDelayMs ?? DEFAULT_CONFLICT_DELAY_MS;
  }

  async get(key: string): Promise<StoredObject | undefined> {
    const Key = this.#key(key);
    try {
      const output = await this.#client.send(new GetObjectCommand({ Bucket: this.#bucket, Key }));
      const body = (await output.Body?.transformToString('utf-8')) ?? '';
      return { body, etag: output.ETag ?? '' };
    } catch (error) {
      if (hasStatus(error, 404, 'NoSuchKey', 'NotFound')) return undefined;
      throw this.#wrap(error, `reading s3://${this.#bucket}/${Key}`);
    }
  }

  async putIfAbsent(key: string, body: string): Promise<{ etag: string } | 'exists'> {
    const result = await this.#put(key, body, { kind: 'absent' });
    return result === 'precondition_failed' ? 'exists' : result;
  }

  async putIfMatch(key: string, body: string, etag: string): Promise<{ etag: string } | 'conflict'> {
    const result = await this.#put(key, body, { kind: 'match', etag });
    return result === 'precondition_failed' ? 'conflict' : result;
  }

  async put(key: string, body: string): Promise<{ etag: string }> {
    const result = await this.#put(key, body, { kind: 'none' });
    // An unconditional put has no precondition; S3 never answers 412 to it.
    if (result === 'precondition_failed') {
      throw new TransientError('store_unavailable', `unexpected 412 on an unconditional put of ${key}`);
    }
    return result;
  }

  async delete(key: string): Promise<void> {
    const Key = this.#key(key);
    try {
      await this.#client.send(new DeleteObjectCommand({ Bucket: this.#bucket, Key }));
    } catch (error) {
      throw this.#wrap(error, `deleting s3://${this.#bucket}/${Key}`);
    }
  }

  async *list(prefix: string): AsyncIterable<string> {
    const Prefix = this.#key(prefix);
    let ContinuationToken: string | undefined;
    do {
      let output: ListObjectsV2CommandOutput;
      try {
        output = await this.#listPage(Prefix, ContinuationToken);
      } catch (error) {
        throw this.#wrap(error, `listing s3://${this.#bucket}/${Prefix}`);
      }
      // S3 lists keys in UTF-8 binary order, which is the lexical order the port promises.
      for (const object of output.Contents ?? []) {
        if (object.Key !== undefined) yield object.Key.slice(this.#prefix.length);
      }
      ContinuationToken = output.IsTruncated ? output.NextContinuationToken : undefined;
    } while (ContinuationToken !== undefined);
  }

  #listPage(Prefix: string, ContinuationToken: string | undefined): Promise<ListObjectsV2CommandOutput> {
    return this.#client.send(
      new ListObjectsV2Command({
        Bucket: this.#bucket,
        Prefix,
        ...(ContinuationToken === undefined ? {} : { ContinuationToken }),
      }),
    );
  }

  async #put(
    key: string,
    body: string,
    condition: Condition,
  ): Promise<{ etag: string } | 'precondition_failed'> {
    const Key = this.#key(key);
    const input: PutObjectCommandInput = {
      Bucket: this.#bucket,
      Key,
      Body: body,
      ContentType: contentTypeOf(key),
      ServerSideEncryption: 'aws:kms',
      SSEKMSKeyId: this.#kmsKeyId,
      ...(condition.kind === 'absent' ? { IfNoneMatch: '*' } : {}),
      ...(condition.kind === 'match' ? { IfMatch: condition.etag } : {}),
    };
    for (let attempt = 1; ; attempt += 1) {
      try {
        const output = await this.#client.send(new PutObjectCommand(input));
        return { etag: output.ETag ?? '' };
      } catch (error) {
        if (condition.kind !== 'none' && hasStatus(error, 412, 'PreconditionFailed')) {
          return 'precondition_failed';
        }
        if (hasStatus(error, 409, 'ConditionalRequestConflict')) {
          if (attempt < this.#conflictAttempts) {
            await sleep(backoff(this.#conflictDelayMs, attempt));
            continue;
          }
          throw new TransientError(
            'store_conflict',
            `writing s3://${this.#bucket}/${Key} met ${attempt} concurrent conditional writes (409 ConditionalRequestConflict); will retry`,
            { cause: error },
          );
        }
        throw this.#wrap(error, `writing s3://${this.#bucket}/${Key}`);
      }
    }
  }

  #key(key: string): string {
    return `${this.#prefix}${key}`;
  }

  #wrap(error: unknown, what: string) {
    return toPostdeskError(
      error,
      what,
      `check that the function's role may use bucket ${this.#bucket} and KMS key ${this.#kmsKeyId}`,
      { transient: 'store_unavailable', permanent: 'store_denied' },
    );
  }
}

/** Full jitter on an exponential base: spreads writers that collided at the same instant. */
const backoff = (baseMs: number, attempt: number): number =>
  backoffDelay({ baseMs, capMs: baseMs * 2 ** 10 }, attempt);

const contentTypeOf = (key: string): string =>
  key.endsWith('.json') ? 'application/json; charset=utf-8' : 'text/plain; charset=utf-8';
