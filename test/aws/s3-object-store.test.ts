import {
  DeleteObjectCommand,
  GetObjectCommand,
  ListObjectsV2Command,
  PutObjectCommand,
  S3Client,
  S3ServiceException,
} from '@aws-sdk/client-s3';
import { mockClient } from 'aws-sdk-client-mock';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { S3ObjectStore } from '../../adapters/aws/s3-object-store.ts';
import { PermanentError, TransientError } from '../../core/errors.ts';
import { s3Body, s3Error } from './s3-fakes.ts';

const BUCKET = 'postdesk-desk-123456789012';
const KEY_ARN = 'arn:aws:kms:eu-west-1:123456789012:key/1234abcd-12ab-34cd-56ef-1234567890ab';
const SSE = { ServerSideEncryption: 'aws:kms', SSEKMSKeyId: KEY_ARN } as const;

const s3 = mockClient(S3Client);

const createStore = (prefix = '') =>
  new S3ObjectStore({
    client: new S3Client({}),
    bucket: BUCKET,
    kmsKeyId: KEY_ARN,
    prefix,
    conflictDelayMs: 0,
  });

describe('S3ObjectStore', () => {
  beforeEach(() => s3.reset());
  afterEach(() => s3.reset());

  describe('putIfAbsent', () => {
    it('creates with If-None-Match: * and SSE-KMS under the desk key', async () => {
      // Prepare
      s3.on(PutObjectCommand).resolves({ ETag: '"e1"' });
      const store = createStore('state/');

      // Act
      const result = await store.putIfAbsent('ledger/m1.json', '{"a":1}');

      // Assess
      expect(result).toEqual({ etag: '"e1"' });
      const calls = s3.commandCalls(PutObjectCommand);
      expect(calls).toHaveLength(1);
      expect(calls[0]?.args[0].input).toEqual({
        Bucket: BUCKET,
        Key: 'state/ledger/m1.json',
        Body: '{"a":1}',
        ContentType: 'application/json; charset=utf-8',
        IfNoneMatch: '*',
        ...SSE,
      });
    });

    it("answers 'exists' on 412 PreconditionFailed", async () => {
      // Prepare
      s3.on(PutObjectCommand).rejects(s3Error('PreconditionFailed', 412));

      // Act
      const result = await createStore().putIfAbsent('ledger/m1.json', '{}');

      // Assess
      expect(result).toBe('exists');
      expect(s3.commandCalls(PutObjectCommand)).toHaveLength(1);
    });

    it('retries 409 ConditionalRequestConflict, then settles on the answer S3 gives', async () => {
      // Prepare
      s3.on(PutObjectCommand)
        .rejectsOnce(s3Error('ConditionalRequestConflict', 409))
        .rejectsOnce(s3Error('ConditionalRequestConflict', 409))
        .rejectsOnce(s3Error('PreconditionFailed', 412));

      // Act
      const result = await createStore().putIfAbsent('ledger/m1.json', '{}');

      // Assess
      expect(result).toBe('exists');
      const calls = s3.commandCalls(PutObjectCommand);
      expect(calls).toHaveLength(3);
      for (const call of calls) expect(call.args[0].input).toMatchObject({ IfNoneMatch: '*', ...SSE });
    });

    it('gives up on 409 after the configured attempts with a TransientError', async () => {
      // Prepare
      s3.on(PutObjectCommand).rejects(s3Error('ConditionalRequestConflict', 409));
      const store = new S3ObjectStore({
        client: new S3Client({}),
        bucket: BUCKET,
        kmsKeyId: KEY_ARN,
        conflictAttempts: 3,
        conflictDelayMs: 0,
      });

      // Act
      const attempt = store.putIfAbsent('ledger/m1.json', '{}');

      // Assess
      await expect(attempt).rejects.toBeInstanceOf(TransientError);
      await expect(attempt).rejects.toMatchObject({ code: 'store_conflict' });
      expect(s3.commandCalls(PutObjectCommand)).toHaveLength(3);
    });
  });

  describe('putIfMatch', () => {
    it('replaces with If-Match: <etag> and SSE-KMS', async () => {
      // Prepare
      s3.on(PutObjectCommand).resolves({ ETag: '"e2"' });

      // Act
      const result = await createStore().putIfMatch('tickets/acme/game/1.json', '{"v":2}', '"e1"');

      // Assess
      expect(result).toEqual({ etag: '"e2"' });
      expect(s3.commandCalls(PutObjectCommand)[0]?.args[0].input).toEqual({
        Bucket: BUCKET,
        Key: 'tickets/acme/game/1.json',
        Body: '{"v":2}',
        ContentType: 'application/json; charset=utf-8',
        IfMatch: '"e1"',
        ...SSE,
      });
    });

    it("answers 'conflict' on 412", async () => {
      // Prepare
      s3.on(PutObjectCommand).rejects(s3Error('PreconditionFailed', 412));

      // Act
      const result = await createStore().putIfMatch('tickets/x.json', '{}', '"old"');

      // Assess
      expect(result).toBe('conflict');
    });

    it('retries a 409 with the same etag (never a blind overwrite)', async () => {
      // Prepare
      s3.on(PutObjectCommand)
        .rejectsOnce(s3Error('ConditionalRequestConflict', 409))
        .resolvesOnce({ ETag: '"e3"' });

      // Act
      const result = await createStore().putIfMatch('tickets/x.json', '{}', '"e1"');

      // Assess
      expect(result).toEqual({ etag: '"e3"' });
      const inputs = s3.commandCalls(PutObjectCommand).map((call) => call.args[0].input);
      expect(inputs.map((input) => input.IfMatch)).toEqual(['"e1"', '"e1"']);
      expect(inputs.every((input) => input.IfNoneMatch === undefined)).toBe(true);
    });
  });

  describe('put', () => {
    it('writes unconditionally, still encrypted with the desk key', async () => {
      // Prepare
      s3.on(PutObjectCommand).resolves({ ETag: '"q1"' });

      // Act
      await createStore().put('quarantine/m1.json', '{}');

      // Assess
      const input = s3.commandCalls(PutObjectCommand)[0]?.args[0].input;
      expect(input).toEqual({
        Bucket: BUCKET,
        Key: 'quarantine/m1.json',
        Body: '{}',
        ContentType: 'application/json; charset=utf-8',
        ...SSE,
      });
    });
  });

  describe('errors', () => {
    it.each([
      ['SlowDown', 503],
      ['InternalError', 500],
      ['ServiceUnavailable', 503],
      ['ThrottlingException', 400],
      ['RequestTimeout', 400],
    ])('turns %s (%i) into a TransientError', async (name, status) => {
      // Prepare
      s3.on(PutObjectCommand).rejects(s3Error(name, status));

      // Act
      const attempt = createStore().putIfAbsent('ledger/m1.json', '{}');

      // Assess
      await expect(attempt).rejects.toBeInstanceOf(TransientError);
      await expect(attempt).rejects.toMatchObject({ code: 'store_unavailable' });
    });

    it('turns a network failure (no HTTP answer) into a TransientError', async () => {
      // Prepare
      s3.on(GetObjectCommand).rejects(Object.assign(new Error('socket hang up'), { code: 'ECONNRESET' }));

      // Act
      const attempt = createStore().get('ledger/m1.json');

      // Assess
      await expect(attempt).rejects.toBeInstanceOf(TransientError);
    });

    it('turns AccessDenied into a PermanentError that says what to check', async () => {
      // Prepare
      s3.on(PutObjectCommand).rejects(s3Error('AccessDenied', 403));

      // Act
      const attempt = createStore().put('quarantine/m1.json', '{}');

      // Assess
      await expect(attempt).rejects.toBeInstanceOf(PermanentError);
      await expect(attempt).rejects.toThrow(
        /AccessDenied 403.*may use bucket postdesk-desk-123456789012 and KMS key/,
      );
    });
  });

  describe('get', () => {
    it('reads the body and the etag', async () => {
      // Prepare
      s3.on(GetObjectCommand, { Bucket: BUCKET, Key: 'state/ledger/m1.json' }).resolves({
        Body: s3Body('{"a":1}'),
        ETag: '"e1"',
      });

      // Act
      const stored = await createStore('state/').get('ledger/m1.json');

      // Assess
      expect(stored).toEqual({ body: '{"a":1}', etag: '"e1"' });
    });

    it('answers undefined for NoSuchKey', async () => {
      // Prepare
      s3.on(GetObjectCommand).rejects(s3Error('NoSuchKey', 404));

      // Act
      const stored = await createStore().get('ledger/none.json');

      // Assess
      expect(stored).toBeUndefined();
    });
  });

  describe('delete and list', () => {
    it('deletes the prefixed key', async () => {
      // Prepare
      s3.on(DeleteObjectCommand).resolves({});

      // Act
      await createStore('state/').delete('ledger/m1.json');

      // Assess
      expect(s3.commandCalls(DeleteObjectCommand)[0]?.args[0].input).toEqual({
        Bucket: BUCKET,
        Key: 'state/ledger/m1.json',
      });
    });

    it('lists every page, keys without the store prefix', async () => {
      // Prepare
      s3.on(ListObjectsV2Command)
        .resolvesOnce({
          Contents: [{ Key: 'state/quarantine/a.json' }, { Key: 'state/quarantine/b.json' }],
          IsTruncated: true,
          NextContinuationToken: 'page-2',
        })
        .resolvesOnce({ Contents: [{ Key: 'state/quarantine/c.json' }], IsTruncated: false });
      const keys: string[] = [];

      // Act
      for await (const key of createStore('state/').list('quarantine/')) keys.push(key);

      // Assess
      expect(keys).toEqual(['quarantine/a.json', 'quarantine/b.json', 'quarantine/c.json']);
      expect(s3.commandCalls(ListObjectsV2Command).map((call) => call.args[0].input)).toEqual([
        { Bucket: BUCKET, Prefix: 'state/quarantine/' },
        { Bucket: BUCKET, Prefix: 'state/quarantine/', ContinuationToken: 'page-2' },
      ]);
    });
  });

  it('is a plain S3ServiceException the SDK would throw (sanity of the fake errors)', () => {
    expect(s3Error('PreconditionFailed', 412)).toBeInstanceOf(S3ServiceException);
  });
});
