import { createHash } from 'node:crypto';
import { Readable } from 'node:stream';
import {
  DeleteObjectCommand,
  type DeleteObjectCommandInput,
  GetObjectCommand,
  type GetObjectCommandInput,
  type GetObjectCommandOutput,
  HeadObjectCommand,
  type HeadObjectCommandInput,
  ListObjectsV2Command,
  type ListObjectsV2CommandInput,
  PutObjectCommand,
  type PutObjectCommandInput,
  type S3Client,
  S3ServiceException,
} from '@aws-sdk/client-s3';
import type { AwsClientStub } from 'aws-sdk-client-mock';

/** The error the SDK throws for an S3 error response: name, status, fault. */
export const s3Error = (name: string, status: number): S3ServiceException =>
  new S3ServiceException({
    name,
    $fault: status >= 500 ? 'server' : 'client',
    $metadata: { httpStatusCode: status },
    message: `${name} (fake S3)`,
  });

type Body = NonNullable<GetObjectCommandOutput['Body']>;

/**
 * A GetObject body as the SDK returns it in Node: a Readable with the SDK's `transformTo*` helpers
 * (what `sdkStreamMixin` adds). `chunks` splits the bytes, to exercise streaming.
 */
export const s3Body = (
  content: string | Buffer,
  options: { chunkSize?: number; failAfter?: number } = {},
): Body => {
  const bytes = Buffer.from(content);
  const size = options.chunkSize ?? 64 * 1024;
  async function* generate(): AsyncGenerator<Buffer> {
    for (let offset = 0; offset < bytes.length; offset += size) {
      if (options.failAfter !== undefined && offset >= options.failAfter) {
        throw Object.assign(new Error('read ECONNRESET'), { code: 'ECONNRESET' });
      }
      yield bytes.subarray(offset, offset + size);
    }
  }
  const stream = Readable.from(generate(), { objectMode: false });
  return Object.assign(stream, {
    transformToString: async (encoding?: string) => bytes.toString((encoding ?? 'utf-8') as BufferEncoding),
    transformToByteArray: async () => new Uint8Array(bytes),
    transformToWebStream: () => Readable.toWeb(Readable.from([bytes])),
  }) as unknown as Body;
};

interface FakeObject {
  body: Buffer;
  etag: string;
  input: PutObjectCommandInput;
}

/**
 * An in-memory S3 bucket behind aws-sdk-client-mock, with S3's conditional-write semantics
 * (`If-None-Match: *` and `If-Match` answer 412 PreconditionFailed), for end-to-end tests where
 * the pipeline writes its ledger and tickets. Every call still goes through the mock, so tests can
 * assert the exact commands.
 */
export const fakeBucket = (stub: AwsClientStub<S3Client>, bucket: string) => {
  const objects = new Map<string, FakeObject>();
  let counter = 0;
  const noSuchBucket = (name: string | undefined) => {
    if (name !== bucket) throw s3Error('NoSuchBucket', 404);
  };
  stub.on(PutObjectCommand).callsFake(async (input: PutObjectCommandInput) => {
    noSuchBucket(input.Bucket);
    const key = input.Key ?? '';
    const existing = objects.get(key);
    if (input.IfNoneMatch === '*' && existing) throw s3Error('PreconditionFailed', 412);
    if (input.IfMatch !== undefined && existing?.etag !== input.IfMatch) {
      throw existing ? s3Error('PreconditionFailed', 412) : s3Error('NoSuchKey', 404);
    }
    const body = Buffer.from((input.Body as string | Buffer | undefined) ?? '');
    counter += 1;
    const etag = `"${createHash('md5').update(body).update(String(counter)).digest('hex')}"`;
    objects.set(key, { body, etag, input });
    return { ETag: etag };
  });
  stub.on(GetObjectCommand).callsFake(async (input: GetObjectCommandInput) => {
    noSuchBucket(input.Bucket);
    const object = objects.get(input.Key ?? '');
    if (!object) throw s3Error('NoSuchKey', 404);
    return { Body: s3Body(object.body), ETag: object.etag, ContentLength: object.body.length };
  });
  stub.on(HeadObjectCommand).callsFake(async (input: HeadObjectCommandInput) => {
    noSuchBucket(input.Bucket);
    const object = objects.get(input.Key ?? '');
    if (!object) throw s3Error('NotFound', 404);
    return { ETag: object.etag, ContentLength: object.body.length };
  });
  stub.on(DeleteObjectCommand).callsFake(async (input: DeleteObjectCommandInput) => {
    noSuchBucket(input.Bucket);
    objects.delete(input.Key ?? '');
    return {};
  });
  stub.on(ListObjectsV2Command).callsFake(async (input: ListObjectsV2CommandInput) => {
    noSuchBucket(input.Bucket);
    const keys = [...objects.keys()].filter((key) => key.startsWith(input.Prefix ?? '')).sort();
    return { Contents: keys.map((Key) => ({ Key })), IsTruncated: false, KeyCount: keys.length };
  });
  return {
    objects,
    /** Puts an object as SES would (raw mail), outside the mock's call log. */
    seed(key: string, body: string | Buffer): void {
      counter += 1;
      objects.set(key, {
        body: Buffer.from(body),
        etag: `"seed-${counter}"`,
        input: { Bucket: bucket, Key: key },
      });
    },
    text(key: string): string | undefined {
      return objects.get(key)?.body.toString('utf8');
    },
    keys(prefix = ''): string[] {
      return [...objects.keys()].filter((key) => key.startsWith(prefix)).sort();
    },
  };
};
