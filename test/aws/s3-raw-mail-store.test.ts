import { readFileSync } from 'node:fs';
import type { Readable } from 'node:stream';
import { GetObjectCommand, HeadObjectCommand, S3Client } from '@aws-sdk/client-s3';
import { mockClient } from 'aws-sdk-client-mock';
import { beforeEach, describe, expect, it } from 'vitest';
import { S3RawMailStore } from '../../adapters/aws/s3-raw-mail-store.ts';
import { PermanentError, TransientError } from '../../core/errors.ts';
import { s3Body, s3Error } from './s3-fakes.ts';

const BUCKET = 'postdesk-desk-123456789012';
const EML = readFileSync(
  new URL('../fixtures/corpus/emails/mailparser/history-2012/test.eml', import.meta.url),
);

const s3 = mockClient(S3Client);

const createStore = (maxBytes?: number) =>
  new S3RawMailStore({
    client: new S3Client({}),
    bucket: BUCKET,
    ...(maxBytes === undefined ? {} : { maxBytes }),
  });

const drain = async (stream: Readable): Promise<Buffer> => {
  const chunks: Buffer[] = [];
  for await (const chunk of stream) chunks.push(chunk as Buffer);
  return Buffer.concat(chunks);
};

describe('S3RawMailStore', () => {
  beforeEach(() => s3.reset());

  it('streams the raw mail byte for byte', async () => {
    // Prepare
    s3.on(GetObjectCommand, { Bucket: BUCKET, Key: 'mail/m1' }).resolves({
      Body: s3Body(EML, { chunkSize: 500 }),
      ContentLength: EML.length,
    });

    // Act
    const bytes = await drain(await createStore().open('mail/m1'));

    // Assess
    expect(bytes.equals(EML)).toBe(true);
    expect(s3.commandCalls(GetObjectCommand)[0]?.args[0].input).toEqual({ Bucket: BUCKET, Key: 'mail/m1' });
  });

  it('gives the size from HeadObject', async () => {
    // Prepare
    s3.on(HeadObjectCommand, { Bucket: BUCKET, Key: 'mail/m1' }).resolves({ ContentLength: 2860 });

    // Act
    const size = await createStore().size('mail/m1');

    // Assess
    expect(size).toBe(2860);
    expect(s3.commandCalls(HeadObjectCommand)[0]?.args[0].input).toEqual({ Bucket: BUCKET, Key: 'mail/m1' });
  });

  it('answers undefined for the size of a missing mail', async () => {
    // Prepare
    s3.on(HeadObjectCommand).rejects(s3Error('NotFound', 404));

    // Act
    const size = await createStore().size('mail/none');

    // Assess
    expect(size).toBeUndefined();
  });

  it('refuses before the first byte when Content-Length is over the cap', async () => {
    // Prepare
    s3.on(GetObjectCommand).resolves({ Body: s3Body(EML), ContentLength: EML.length });

    // Act
    const attempt = createStore(1000).open('mail/m1');

    // Assess
    await expect(attempt).rejects.toBeInstanceOf(PermanentError);
    await expect(attempt).rejects.toMatchObject({ code: 'raw_too_large' });
  });

  it('stops streaming at the cap when Content-Length is missing or wrong', async () => {
    // Prepare: S3 claims 100 bytes and sends the whole mail
    s3.on(GetObjectCommand).resolves({ Body: s3Body(EML, { chunkSize: 256 }), ContentLength: 100 });
    const stream = await createStore(1000).open('mail/m1');

    // Act
    const reading = drain(stream);

    // Assess
    await expect(reading).rejects.toMatchObject({ code: 'raw_too_large' });
  });

  it('makes a missing mail a PermanentError that says why it may be gone', async () => {
    // Prepare
    s3.on(GetObjectCommand).rejects(s3Error('NoSuchKey', 404));

    // Act
    const attempt = createStore().open('mail/expired');

    // Assess
    await expect(attempt).rejects.toMatchObject({ code: 'mail_missing' });
    await expect(attempt).rejects.toThrow(/lifecycle/);
  });

  it('makes a throttled read a TransientError', async () => {
    // Prepare
    s3.on(GetObjectCommand).rejects(s3Error('SlowDown', 503));

    // Act
    const attempt = createStore().open('mail/m1');

    // Assess
    await expect(attempt).rejects.toBeInstanceOf(TransientError);
  });

  it('makes a connection reset halfway through the body a TransientError', async () => {
    // Prepare
    s3.on(GetObjectCommand).resolves({
      Body: s3Body(EML, { chunkSize: 256, failAfter: 1024 }),
      ContentLength: EML.length,
    });
    const stream = await createStore().open('mail/m1');

    // Act
    const reading = drain(stream);

    // Assess
    await expect(reading).rejects.toBeInstanceOf(TransientError);
    await expect(reading).rejects.toMatchObject({ code: 'mail_store_unavailable' });
  });
});
