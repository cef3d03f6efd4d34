import { randomUUID } from 'node:crypto';
import { createWriteStream } from 'node:fs';
import { mkdir, open, rename, stat, unlink, writeFile } from 'node:fs/promises';
import { dirname, join, resolve } from 'node:path';
import type { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { PermanentError, TransientError } from '../../core/errors.ts';
import type { RawMailStore } from '../../core/ports.ts';
import { assertObjectKey } from './object-store.ts';

/**
 * Raw mail on local files: `<root>/<key>`, the local stand-in for the bucket's `mail/` prefix. Keys
 * follow the object-store rules (relative, no `..`). `put` is how local ingestion (the SMTP server,
 * `postdesk ingest`) stores a mail: streamed to a temp file in the same folder, then renamed, so the
 * pipeline never opens half a mail.
 */
export interface FileRawMailStore extends RawMailStore {
  /** Stores a mail under `key` (replacing any mail there); returns its size in bytes. */
  put(key: string, content: Readable | Buffer): Promise<{ size: number }>;
}

const codeOf = (error: unknown): string | undefined =>
  typeof error === 'object' && error !== null && 'code' in error && typeof error.code === 'string'
    ? error.code
    : undefined;

export const createFileRawMailStore = (root: string): FileRawMailStore => {
  const base = resolve(root);

  const pathOf = (key: string): string => {
    assertObjectKey(key);
    return join(base, ...key.split('/'));
  };

  return {
    async open(key) {
      const path = pathOf(key);
      try {
        const handle = await open(path, 'r');
        return handle.createReadStream({ autoClose: true });
      } catch (error) {
        const code = codeOf(error);
        if (code === 'ENOENT' || code === 'ENOTDIR' || code === 'EISDIR') {
          throw new PermanentError('raw_missing', `raw mail ${key} is not in ${base}`, { cause: error });
        }
        throw new TransientError('raw_store_unavailable', `cannot read raw mail ${key}: ${code ?? 'error'}`, {
          cause: error,
        });
      }
    },

    async size(key) {
      try {
        const info = await stat(pathOf(key));
        return info.isFile() ? info.size : undefined;
      } catch (error) {
        const code = codeOf(error);
        if (code === 'ENOENT' || code === 'ENOTDIR') return undefined;
        throw new TransientError('raw_store_unavailable', `cannot stat raw mail ${key}: ${code ?? 'error'}`, {
          cause: error,
        });
      }
    },

    async put(key, content) {
      const path = pathOf(key);
      await mkdir(dirname(path), { recursive: true });
      // Dot-prefixed temp name in the same folder: rename() is atomic only within one file system.
      const tmp = join(dirname(path), `.${randomUUID()}.tmp`);
      try {
        if (Buffer.isBuffer(content)) await writeFile(tmp, content, { flag: 'wx' });
        else await pipeline(content, createWriteStream(tmp, { flags: 'wx' }));
        await rename(tmp, path);
      } catch (error) {
        await unlink(tmp).catch(() => undefined);
        throw error;
      }
      return { size: (await stat(path)).size };
    },
  };
};
