import { Readable, Transform, type TransformCallback } from 'node:stream';
import { GetObjectCommand, HeadObjectCommand, type S3Client } from '@aws-sdk/client-s3';
import { PermanentError } from '../../core/errors.ts';
import type { RawMailStore } from '../../core/ports.ts';
import type { ParseRejectReason } from '../../core/stages/parse/index.ts';
import { hasStatus, toPostdeskError } from './errors.ts';

/**
 * Raw mail as SES's S3 action wrote it (`mail/<SES messageId>`). The body is streamed, never
 * buffered: SES accepts up to 40 MB, and a parser that holds a mail whole is how SES forwarders run
 * out of memory (aws-lambda-ses-forwarder #82). The size cap is enforced twice: on the object's
 * Content-Length before the first byte, and on the bytes actually read, so a wrong or missing length
 * cannot slip a larger body through.
 */
export interface S3RawMailStoreOptions {
  client: S3Client;
  bucket: string;
  /** Prepended to every key. SES's objectKey already includes the rule's prefix. @default '' */
  prefix?: string | undefined;
  /** Largest mail, in bytes, this store will stream. @default 41943040 (SES's 40 MB ceiling) */
  maxBytes?: number | undefined;
}

export const DEFAULT_MAX_RAW_BYTES = 40 * 1024 * 1024;

export class S3RawMailStore implements RawMailStore {
  readonly #client: S3Client;
  readonly #bucket: string;
  readonly #prefix: string;
  readonly #maxBytes: number;

  constructor(options: S3RawMailStoreOptions) {
    this.#client = options.client;
    this.#bucket = options.bucket;
    this.#prefix = options.prefix ?? '';
    this.#maxBytes = options.maxBytes ?? DEFAULT_MAX_RAW_BYTES;
  }

  async size(key: string): Promise<number | undefined> {
    const Key = this.#key(key);
    try {
      const output = await this.#client.send(new HeadObjectCommand({ Bucket: this.#bucket, Key }));
      return output.ContentLength;
    } catch (error) {
      if (hasStatus(error, 404, 'NotFound', 'NoSuchKey')) return undefined;
      throw this.#wrap(error, `reading the size of s3://${this.#bucket}/${Key}`);
    }
  }

  async open(key: string): Promise<Readable> {
    const Key = this.#key(key);
    let body: unknown;
    let length: number | undefined;
    try {
      const output = await this.#client.send(new GetObjectCommand({ Bucket: this.#bucket, Key }));
      body = output.Body;
      length = output.ContentLength;
    } catch (error) {
      if (hasStatus(error, 404, 'NoSuchKey', 'NotFound')) {
        throw new PermanentError(
          'mail_missing',
          `raw mail s3://${this.#bucket}/${Key} does not exist: it expired (check the mail/ lifecycle outlives the dead-letter queue) or the receipt rule writes elsewhere`,
          { cause: error },
        );
      }
      throw this.#wrap(error, `reading s3://${this.#bucket}/${Key}`);
    }
    if (length !== undefined && length > this.#maxBytes) {
      destroyBody(body);
      throw tooLarge(Key, this.#maxBytes, length);
    }
    if (!(body instanceof Readable)) {
      destroyBody(body);
      throw new PermanentError('mail_unreadable', `s3://${this.#bucket}/${Key} returned no readable body`);
    }
    const limited = new ByteLimit(this.#maxBytes, Key);
    // A connection reset halfway through the body is as transient as one before it.
    body.once('error', (error) => limited.destroy(this.#wrap(error, `reading s3://${this.#bucket}/${Key}`)));
    limited.once('close', () => body.destroy());
    return body.pipe(limited);
  }

  #key(key: string): string {
    return `${this.#prefix}${key}`;
  }

  #wrap(error: unknown, what: string) {
    return toPostdeskError(
      error,
      what,
      `check that the function's role may read bucket ${this.#bucket} and decrypt with its KMS key`,
      { transient: 'mail_store_unavailable', permanent: 'mail_store_denied' },
    );
  }
}

/** The parse stage's code for the same cap, so a trace names one rule however the size was found. */
const tooLarge = (key: string, limit: number, seen: number): PermanentError =>
  new PermanentError(
    'raw_too_large' satisfies ParseRejectReason,
    `raw mail ${key} is ${seen} bytes or more, over the limit of ${limit} bytes (limits.max_raw_bytes)`,
  );

const destroyBody = (body: unknown): void => {
  if (body instanceof Readable) body.destroy();
};

/** Passes bytes through and fails the stream the moment more than `limit` have gone by. */
class ByteLimit extends Transform {
  #seen = 0;
  readonly #limit: number;
  readonly #key: string;

  constructor(limit: number, key: string) {
    super();
    this.#limit = limit;
    this.#key = key;
  }

  override _transform(chunk: Buffer, _encoding: BufferEncoding, callback: TransformCallback): void {
    this.#seen += chunk.length;
    if (this.#seen > this.#limit) {
      callback(tooLarge(this.#key, this.#limit, this.#seen));
      return;
    }
    callback(null, chunk);
  }
}
