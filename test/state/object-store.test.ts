import { mkdtemp, readdir, rm, utimes, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Readable } from 'node:stream';
import { afterEach, describe, expect, it } from 'vitest';
import { createMemoryObjectStore } from '../../adapters/local/memory-object-store.ts';
import { createFileObjectStore, etagOf } from '../../adapters/local/object-store.ts';
import { createFileRawMailStore } from '../../adapters/local/raw-mail-store.ts';
import { PermanentError, TransientError } from '../../core/errors.ts';
import type { ObjectStore } from '../../core/ports.ts';

const roots: string[] = [];
const tempRoot = async (): Promise<string> => {
  const root = await mkdtemp(join(tmpdir(), 'postdesk-store-'));
  roots.push(root);
  return root;
};
afterEach(async () => {
  await Promise.all(roots.splice(0).map((root) => rm(root, { recursive: true, force: true })));
});

const collect = async (keys: AsyncIterable<string>): Promise<string[]> => {
  const out: string[] = [];
  for await (const key of keys) out.push(key);
  return out;
};

/** One compare-and-swap increment, retried until it wins (the pattern every state module uses). */
const increment = async (store: ObjectStore, key: string): Promise<void> => {
  for (;;) {
    const current = await store.get(key);
    const next = String(Number(current?.body ?? '0') + 1);
    const written = current
      ? await store.putIfMatch(key, next, current.etag)
      : await store.putIfAbsent(key, next);
    if (written !== 'conflict' && written !== 'exists') return;
  }
};

const factories: [string, () => Promise<ObjectStore>][] = [
  ['file', async () => createFileObjectStore(await tempRoot())],
  ['memory', async () => createMemoryObjectStore()],
];

describe.each(factories)('%s object store', (_name, makeStore) => {
  it('returns undefined for a missing key and the body with its sha256 etag after a write', async () => {
    // Prepare
    const store = await makeStore();
    // Act
    const missing = await store.get('ledger/m1/game.json');
    const written = await store.putIfAbsent('ledger/m1/game.json', '{"a":1}');
    const read = await store.get('ledger/m1/game.json');
    // Assess
    expect(missing).toBeUndefined();
    expect(written).toEqual({ etag: etagOf('{"a":1}') });
    expect(read).toEqual({ body: '{"a":1}', etag: etagOf('{"a":1}') });
  });

  it('lets exactly one of two concurrent putIfAbsent calls win, and keeps the winner whole', async () => {
    const store = await makeStore();
    const results = await Promise.all([
      store.putIfAbsent('k/one.json', 'first'.repeat(1000)),
      store.putIfAbsent('k/one.json', 'second'.repeat(1000)),
    ]);
    const winners = results.filter((result) => result !== 'exists');
    expect(winners).toHaveLength(1);
    const body = (await store.get('k/one.json'))?.body;
    expect([`${'first'.repeat(1000)}`, `${'second'.repeat(1000)}`]).toContain(body);
    expect(results.indexOf('exists')).not.toBe(-1);
  });

  it('refuses putIfMatch with a stale etag and accepts the current one', async () => {
    const store = await makeStore();
    const first = await store.putIfAbsent('t.json', 'v1');
    if (first === 'exists') throw new Error('unexpected');
    const second = await store.putIfMatch('t.json', 'v2', first.etag);
    expect(second).toEqual({ etag: etagOf('v2') });
    expect(await store.putIfMatch('t.json', 'v3', first.etag)).toBe('conflict');
    expect((await store.get('t.json'))?.body).toBe('v2');
  });

  it('treats putIfMatch on a missing or deleted key as a conflict', async () => {
    const store = await makeStore();
    expect(await store.putIfMatch('gone.json', 'x', etagOf(''))).toBe('conflict');
    const { etag } = await store.put('gone.json', 'x');
    await store.delete('gone.json');
    expect(await store.putIfMatch('gone.json', 'y', etag)).toBe('conflict');
    expect(await store.get('gone.json')).toBeUndefined();
    await expect(store.delete('gone.json')).resolves.toBeUndefined();
  });

  it('ends at 20 after 20 concurrent compare-and-swap increments', async () => {
    const store = await makeStore();
    await Promise.all(Array.from({ length: 20 }, () => increment(store, 'counter/n.json')));
    expect((await store.get('counter/n.json'))?.body).toBe('20');
  });

  it('lists keys under a prefix in lexical (UTF-8 byte) order, prefixes being plain string prefixes', async () => {
    const store = await makeStore();
    for (const key of [
      'quarantine/b.json',
      'quarantine/a.json',
      'quarantine/ä.json',
      'quarantine/Z.json',
      'quarry/x',
      'ledger/m/k.json',
    ]) {
      await store.put(key, key);
    }
    expect(await collect(store.list('quarantine/'))).toEqual([
      'quarantine/Z.json',
      'quarantine/a.json',
      'quarantine/b.json',
      'quarantine/ä.json',
    ]);
    expect(await collect(store.list('quar'))).toHaveLength(5);
    expect(await collect(store.list('quarantine/a'))).toEqual(['quarantine/a.json']);
    expect(await collect(store.list('nothing/'))).toEqual([]);
    expect(await collect(store.list(''))).toHaveLength(6);
  });

  it.each([
    ['../escape.json'],
    ['ledger/../../etc/passwd'],
    ['/etc/passwd'],
    ['C:/windows'],
    ['a//b'],
    ['a/./b'],
    ['a\\b'],
    [''],
    ['.object-store/locks/x'],
  ])('rejects the key %j with a PermanentError that says what a key may be', async (key) => {
    const store = await makeStore();
    const error = await store.put(key, 'x').catch((caught: unknown) => caught);
    expect(error).toBeInstanceOf(PermanentError);
    expect(error).toMatchObject({ code: 'object_key_invalid' });
    expect(String((error as Error).message)).toContain('relative paths');
    await expect(store.get(key)).rejects.toBeInstanceOf(PermanentError);
  });

  it('rejects a list prefix that climbs out of the root', async () => {
    const store = await makeStore();
    await expect(collect(store.list('../'))).rejects.toMatchObject({ code: 'object_key_invalid' });
  });
});

describe('file object store specifics', () => {
  it('agrees across two store instances on one root (two processes): 20 increments end at 20', async () => {
    const root = await tempRoot();
    const a = createFileObjectStore(root);
    const b = createFileObjectStore(root);
    await Promise.all(Array.from({ length: 20 }, (_, index) => increment(index % 2 ? a : b, 'n.json')));
    expect((await a.get('n.json'))?.body).toBe('20');
  });

  it('leaves no temp or lock files behind and never lists its own files', async () => {
    const root = await tempRoot();
    const store = createFileObjectStore(root);
    const created = await store.putIfAbsent('a/b.json', '1');
    if (created === 'exists') throw new Error('unexpected');
    await store.putIfMatch('a/b.json', '2', created.etag);
    await store.putIfAbsent('a/b.json', '3');
    await store.put('c.json', '4');
    await store.delete('c.json');
    expect(await readdir(join(root, '.object-store', 'tmp'))).toEqual([]);
    expect(await readdir(join(root, '.object-store', 'locks'))).toEqual([]);
    expect(await collect(store.list(''))).toEqual(['a/b.json']);
  });

  it('breaks a lock left by a crashed writer once it is stale', async () => {
    const root = await tempRoot();
    const store = createFileObjectStore(root, { staleLockMs: 1000, lockTimeoutMs: 3000 });
    const created = await store.putIfAbsent('k.json', 'v1');
    if (created === 'exists') throw new Error('unexpected');
    const { createHash } = await import('node:crypto');
    const lockFile = join(
      root,
      '.object-store',
      'locks',
      `${createHash('sha256').update('k.json').digest('hex')}.lock`,
    );
    await writeFile(lockFile, '999999 crashed-writer');
    const old = new Date(Date.now() - 60_000);
    await utimes(lockFile, old, old);

    expect(await store.putIfMatch('k.json', 'v2', created.etag)).toEqual({ etag: etagOf('v2') });
    expect(await readdir(join(root, '.object-store', 'locks'))).toEqual([]);
  });

  it('waits for a live lock and gives up with a TransientError', async () => {
    const root = await tempRoot();
    const store = createFileObjectStore(root, { staleLockMs: 60_000, lockTimeoutMs: 100 });
    await store.put('k.json', 'v1');
    const { createHash } = await import('node:crypto');
    await writeFile(
      join(root, '.object-store', 'locks', `${createHash('sha256').update('k.json').digest('hex')}.lock`),
      'live',
    );
    const error = await store.put('k.json', 'v2').catch((caught: unknown) => caught);
    expect(error).toBeInstanceOf(TransientError);
    expect(error).toMatchObject({ code: 'object_store_locked' });
    expect((await store.get('k.json'))?.body).toBe('v1');
  });

  it('refuses a key below another key with a clear error', async () => {
    const store = createFileObjectStore(await tempRoot());
    await store.put('a/b', 'x');
    await expect(store.put('a/b/c', 'y')).rejects.toMatchObject({ code: 'object_key_conflict' });
  });
});

describe('file raw mail store', () => {
  it('stores a buffer or a stream, reports the size and streams it back', async () => {
    // Prepare
    const root = await tempRoot();
    const raws = createFileRawMailStore(root);
    // Act
    const raw = Buffer.from('From: a@example.com\r\n\r\nhi\r\n');
    await raws.put('mail/a.eml', raw);
    const streamed = await raws.put(
      'mail/b.eml',
      Readable.from([Buffer.from('part one '), Buffer.from('part two')]),
    );
    const chunks: Buffer[] = [];
    for await (const chunk of await raws.open('mail/b.eml')) chunks.push(chunk as Buffer);
    // Assess
    expect(await raws.size('mail/a.eml')).toBe(raw.length);
    expect(streamed).toEqual({ size: 17 });
    expect(Buffer.concat(chunks).toString()).toBe('part one part two');
    expect((await readdir(join(root, 'mail'))).sort()).toEqual(['a.eml', 'b.eml']);
  });

  it('says undefined for the size of a missing mail and raw_missing when opening it', async () => {
    const raws = createFileRawMailStore(await tempRoot());
    expect(await raws.size('mail/none.eml')).toBeUndefined();
    await expect(raws.open('mail/none.eml')).rejects.toMatchObject({
      name: 'PermanentError',
      code: 'raw_missing',
    });
    await expect(raws.open('../x.eml')).rejects.toMatchObject({ code: 'object_key_invalid' });
  });
});
