import { createHash, randomUUID } from 'node:crypto';
import type { Dirent } from 'node:fs';
import { link, mkdir, readdir, readFile, rename, stat, unlink, writeFile } from 'node:fs/promises';
import { dirname, join, resolve } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { PermanentError, TransientError } from '../../core/errors.ts';
import type { ObjectStore, StoredObject } from '../../core/ports.ts';
import { fsFault } from './fs-faults.ts';

/**
 * The state bucket on local files, with S3's conditional-write semantics (reference
 * aws-ses-inbound.md §5), so the ledger, ticket records and counters behave locally as in AWS:
 *
 * - `putIfAbsent` (`If-None-Match: *`): the body is written to a temp file, then hard-linked to the
 *   key. `link()` fails with EEXIST when the key exists, atomically, so of two writers exactly one
 *   wins and a reader never sees a half-written object.
 * - `putIfMatch` (`If-Match`): compare-and-swap. The etag is the SHA-256 of the content. The check
 *   and the rename that replaces the file must not interleave with another writer's, so they run
 *   under a per-key lock file created with `wx` (O_CREAT|O_EXCL) and removed after. A lock left by
 *   a crashed process is broken once it is older than `staleLockMs`.
 * - `put` and `delete` take the same lock, so an unconditional write cannot slip between another
 *   writer's check and rename.
 *
 * Crash safety is per process (temp + rename), not per power loss: nothing is fsynced.
 * Internal files (temp bodies, locks) live under `<root>/.object-store/`, which is never listed and
 * cannot be addressed by a key.
 */

export interface FileObjectStoreOptions {
  /**
   * Age after which a per-key lock is presumed left by a crashed process and broken. A lock is held
   * for one rename, so anything this old is not a live writer.
   * @default 10000
   */
  staleLockMs?: number;
  /**
   * How long a writer waits for a per-key lock before giving up with a TransientError
   * (`object_store_locked`). Longer than `staleLockMs` so a crashed writer's lock is broken first.
   * @default 15000
   */
  lockTimeoutMs?: number;
}

const DEFAULTS = { staleLockMs: 10_000, lockTimeoutMs: 15_000 } as const;

/** The folder under the root that holds temp files and locks; no key may start with it. */
const INTERNAL_DIR = '.object-store';

/** S3's own limit on key length, in UTF-8 bytes. */
const MAX_KEY_BYTES = 1024;

/** The etag of a body: its SHA-256 in hex (a stable content hash, like S3's MD5 ETag). */
export const etagOf = (body: string): string => createHash('sha256').update(body, 'utf8').digest('hex');

const keyHelp =
  'object keys are relative paths such as "ledger/<mail id>/<project>.json": no leading "/", no "." or ".." segments, no empty segments, no backslash or control characters';

/** Throws a PermanentError when `key` could escape the store's root or is not a valid object key. */
export const assertObjectKey = (key: string): void => {
  const problem = keyProblem(key, false);
  if (problem)
    throw new PermanentError(
      'object_key_invalid',
      `invalid object key ${JSON.stringify(key)}: ${problem} (${keyHelp})`,
    );
};

/** Like assertObjectKey, for a list prefix: `''` and a trailing `/` or partial segment are allowed. */
export const assertObjectPrefix = (prefix: string): void => {
  if (prefix === '') return;
  const problem = keyProblem(prefix, true);
  if (problem) {
    throw new PermanentError(
      'object_key_invalid',
      `invalid list prefix ${JSON.stringify(prefix)}: ${problem} (${keyHelp})`,
    );
  }
};

const keyProblem = (key: string, isPrefix: boolean): string | undefined => {
  if (key === '') return 'it is empty';
  if (Buffer.byteLength(key, 'utf8') > MAX_KEY_BYTES) return `it is longer than ${MAX_KEY_BYTES} bytes`;
  if (key.startsWith('/') || /^[A-Za-z]:/.test(key)) return 'it is absolute';
  if (key.includes('\\')) return 'it contains a backslash';
  // biome-ignore lint/suspicious/noControlCharactersInRegex: control characters are what we reject.
  if (/[\u0000-\u001f\u007f]/.test(key)) return 'it contains a control character';
  const segments = key.split('/');
  // A prefix may end with "/" (an empty last segment) or with part of a segment.
  const whole = isPrefix ? segments.slice(0, -1) : segments;
  for (const segment of whole) {
    if (segment === '') return 'it has an empty segment';
    if (segment === '.' || segment === '..') return `it has a "${segment}" segment`;
  }
  const last = segments[segments.length - 1] ?? '';
  if (isPrefix && (last === '.' || last === '..')) return `it has a "${last}" segment`;
  if (segments[0] === INTERNAL_DIR) return `"${INTERNAL_DIR}" is reserved for the store's own files`;
  return undefined;
};

const codeOf = (error: unknown): string | undefined =>
  typeof error === 'object' && error !== null && 'code' in error && typeof error.code === 'string'
    ? error.code
    : undefined;

/** UTF-8 byte order, as S3 lists keys (JavaScript's default sort compares UTF-16 code units). */
export const compareKeys = (a: string, b: string): number => Buffer.compare(Buffer.from(a), Buffer.from(b));

/** Creates an ObjectStore over the folder `root` (created on first write). */
export const createFileObjectStore = (root: string, options: FileObjectStoreOptions = {}): ObjectStore => {
  const base = resolve(root);
  const staleLockMs = options.staleLockMs ?? DEFAULTS.staleLockMs;
  const lockTimeoutMs = options.lockTimeoutMs ?? DEFAULTS.lockTimeoutMs;
  const tmpDir = join(base, INTERNAL_DIR, 'tmp');
  const lockDir = join(base, INTERNAL_DIR, 'locks');
  let internalReady: Promise<void> | undefined;

  const ensureInternal = (): Promise<void> => {
    internalReady ??= Promise.all([
      mkdir(tmpDir, { recursive: true }),
      mkdir(lockDir, { recursive: true }),
    ]).then(
      () => undefined,
      (error: unknown) => {
        internalReady = undefined;
        throw error;
      },
    );
    return internalReady;
  };

  const pathOf = (key: string): string => {
    assertObjectKey(key);
    return join(base, ...key.split('/'));
  };

  /** Creates the key's parent folders; a key cannot sit where another key's folder is, or below a key. */
  const ensureParent = async (key: string, path: string): Promise<void> => {
    try {
      await mkdir(dirname(path), { recursive: true });
    } catch (error) {
      const code = codeOf(error);
      if (code === 'EEXIST' || code === 'ENOTDIR') {
        throw new PermanentError(
          'object_key_conflict',
          `object key ${JSON.stringify(key)} lies below another object: the file store cannot hold both "a/b" and "a/b/c"`,
          { cause: error },
        );
      }
      throw error;
    }
  };

  /** Writes the body to a fresh temp file and returns its path. */
  const writeTemp = async (body: string): Promise<string> => {
    await ensureInternal();
    const tmp = join(tmpDir, `${randomUUID()}.tmp`);
    await writeFile(tmp, body, { encoding: 'utf8', flag: 'wx' });
    return tmp;
  };

  const removeQuietly = async (path: string): Promise<void> => {
    try {
      await unlink(path);
    } catch (error) {
      if (codeOf(error) !== 'ENOENT') throw error;
    }
  };

  const lockPathOf = (key: string): string =>
    join(lockDir, `${createHash('sha256').update(key).digest('hex')}.lock`);

  /**
   * Breaks the lock at `path` when it is older than `staleLockMs`; true when the caller should try
   * to acquire again at once. The stale lock is first renamed to a unique name, so of two waiters
   * that both saw it stale only one removes it; if what was renamed turns out to be a fresh lock
   * (its owner replaced the stale one in between), it is linked back.
   */
  const breakIfStale = async (path: string): Promise<boolean> => {
    let seen: string;
    try {
      const info = await stat(path);
      if (Date.now() - info.mtimeMs < staleLockMs) return false;
      seen = await readFile(path, 'utf8');
    } catch (error) {
      if (codeOf(error) === 'ENOENT') return true;
      throw error;
    }
    const aside = `${path}.${randomUUID()}.stale`;
    try {
      await rename(path, aside);
    } catch (error) {
      if (codeOf(error) === 'ENOENT') return true;
      throw error;
    }
    const moved = await readFile(aside, 'utf8');
    if (moved !== seen) {
      try {
        await link(aside, path);
      } catch (error) {
        if (codeOf(error) !== 'EEXIST') throw error;
      }
    }
    await removeQuietly(aside);
    return true;
  };

  /** Takes the per-key lock; returns the function that releases it. */
  const lock = async (key: string): Promise<() => Promise<void>> => {
    await ensureInternal();
    const path = lockPathOf(key);
    const token = `${process.pid} ${randomUUID()}`;
    const deadline = Date.now() + lockTimeoutMs;
    let delay = 1;
    for (;;) {
      try {
        await writeFile(path, token, { encoding: 'utf8', flag: 'wx' });
        return async function releaseLock() {
          // Only remove our own lock: if it was broken as stale, it now belongs to someone else.
          try {
            if ((await readFile(path, 'utf8')) === token) await unlink(path);
          } catch (error) {
            if (codeOf(error) !== 'ENOENT') throw error;
          }
        };
      } catch (error) {
        if (codeOf(error) !== 'EEXIST') throw error;
      }
      if (await breakIfStale(path)) continue;
      if (Date.now() > deadline) {
        throw new TransientError(
          'object_store_locked',
          `object ${JSON.stringify(key)} stayed locked for ${lockTimeoutMs} ms (lock file ${path})`,
        );
      }
      await sleep(delay + Math.random() * delay);
      delay = Math.min(delay * 2, 25);
    }
  };

  const get = async (key: string): Promise<StoredObject | undefined> => {
    const path = pathOf(key);
    try {
      const body = await readFile(path, 'utf8');
      return { body, etag: etagOf(body) };
    } catch (error) {
      const code = codeOf(error);
      if (code === 'ENOENT' || code === 'ENOTDIR' || code === 'EISDIR') return undefined;
      throw error;
    }
  };

  const putIfAbsent = async (key: string, body: string): Promise<{ etag: string } | 'exists'> => {
    const path = pathOf(key);
    await ensureParent(key, path);
    const tmp = await writeTemp(body);
    try {
      await link(tmp, path);
      return { etag: etagOf(body) };
    } catch (error) {
      if (codeOf(error) === 'EEXIST') return 'exists';
      throw error;
    } finally {
      await removeQuietly(tmp);
    }
  };

  const putIfMatch = async (
    key: string,
    body: string,
    etag: string,
  ): Promise<{ etag: string } | 'conflict'> => {
    const path = pathOf(key);
    const tmp = await writeTemp(body);
    try {
      const release = await lock(key);
      try {
        const current = await get(key);
        if (!current || current.etag !== etag) return 'conflict';
        await rename(tmp, path);
        return { etag: etagOf(body) };
      } finally {
        await release();
      }
    } finally {
      await removeQuietly(tmp);
    }
  };

  const put = async (key: string, body: string): Promise<{ etag: string }> => {
    const path = pathOf(key);
    await ensureParent(key, path);
    const tmp = await writeTemp(body);
    try {
      const release = await lock(key);
      try {
        await rename(tmp, path);
        return { etag: etagOf(body) };
      } finally {
        await release();
      }
    } finally {
      await removeQuietly(tmp);
    }
  };

  const remove = async (key: string): Promise<void> => {
    const path = pathOf(key);
    const release = await lock(key);
    try {
      await removeQuietly(path);
    } catch (error) {
      if (codeOf(error) !== 'ENOTDIR') throw error;
    } finally {
      await release();
    }
  };

  /** Every key in the folder `dir` (key prefix `dirKey`), depth first. */
  const walk = async (dir: string, dirKey: string, out: string[]): Promise<void> => {
    let entries: Dirent[];
    try {
      entries = await readdir(dir, { withFileTypes: true });
    } catch (error) {
      const code = codeOf(error);
      if (code === 'ENOENT' || code === 'ENOTDIR') return;
      throw error;
    }
    for (const entry of entries) {
      if (dirKey === '' && entry.name === INTERNAL_DIR) continue;
      const key = dirKey === '' ? entry.name : `${dirKey}/${entry.name}`;
      if (entry.isDirectory()) await walk(join(dir, entry.name), key, out);
      else if (entry.isFile()) out.push(key);
    }
  };

  async function* list(prefix: string): AsyncIterable<string> {
    assertObjectPrefix(prefix);
    // S3 prefixes are plain string prefixes: walk the deepest folder the prefix names, then filter.
    const slash = prefix.lastIndexOf('/');
    const dirKey = slash === -1 ? '' : prefix.slice(0, slash);
    const keys: string[] = [];
    await walk(dirKey === '' ? base : join(base, ...dirKey.split('/')), dirKey, keys);
    yield* keys.filter((key) => key.startsWith(prefix)).sort(compareKeys);
  }

  // A read-only or full `.postdesk/state/` is the folder's fault, not the mail's: transient.
  const fix = `Check that ${base} is writable by this user and the disk has room; the mail is retried.`;
  const guarded =
    <A extends unknown[], R>(operation: string, work: (key: string, ...rest: A) => Promise<R>) =>
    async (key: string, ...rest: A): Promise<R> => {
      try {
        return await work(key, ...rest);
      } catch (error) {
        throw fsFault(
          error,
          'state_unavailable',
          `${operation} ${JSON.stringify(key)} in the local state`,
          fix,
        );
      }
    };
  async function* guardedList(prefix: string): AsyncIterable<string> {
    try {
      yield* list(prefix);
    } catch (error) {
      throw fsFault(error, 'state_unavailable', `list ${JSON.stringify(prefix)} in the local state`, fix);
    }
  }

  return {
    get: guarded('read', get),
    putIfAbsent: guarded('write', putIfAbsent),
    putIfMatch: guarded('write', putIfMatch),
    put: guarded('write', put),
    delete: guarded('delete', remove),
    list: guardedList,
  };
};
