import { randomBytes } from 'node:crypto';
import { createWriteStream } from 'node:fs';
import { mkdir, open, rename, rm, writeFile } from 'node:fs/promises';
import { basename, dirname, join } from 'node:path';
import type { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';

/**
 * File writes the file forge can rely on: a reader sees the old content or the new, never half a
 * file (temp file in the same folder, then rename, which POSIX makes atomic), and two writers
 * never claim the same name (`O_EXCL`).
 */

const tempFor = (path: string): string =>
  join(dirname(path), `.${basename(path)}.${randomBytes(6).toString('hex')}.tmp`);

export const writeAtomic = async (path: string, content: string): Promise<void> => {
  const temp = tempFor(path);
  try {
    await writeFile(temp, content, { encoding: 'utf8', flag: 'wx' });
    await rename(temp, path);
  } catch (error) {
    await rm(temp, { force: true });
    throw error;
  }
};

/** Streams to disk, then renames into place; returns the byte count. */
export const streamAtomic = async (path: string, content: Readable): Promise<number> => {
  const temp = tempFor(path);
  let bytes = 0;
  const count = async function* (source: AsyncIterable<Buffer | string>): AsyncGenerator<Buffer> {
    for await (const chunk of source) {
      const buffer = typeof chunk === 'string' ? Buffer.from(chunk) : chunk;
      bytes += buffer.length;
      yield buffer;
    }
  };
  try {
    await pipeline(content, count, createWriteStream(temp, { flags: 'wx' }));
    await rename(temp, path);
  } catch (error) {
    await rm(temp, { force: true });
    throw error;
  }
  return bytes;
};

/**
 * Claims the first free number at or after `start`: creates `nameOf(n)` with `O_EXCL`, so of
 * concurrent claimers (in this process or another) exactly one gets each number. The claimed file
 * is empty until the caller writes it.
 */
export const claimNumber = async (
  dir: string,
  start: number,
  nameOf: (n: number) => string,
  maxTries = 10_000,
): Promise<number> => {
  await mkdir(dir, { recursive: true });
  for (let n = start, tries = 0; tries < maxTries; n++, tries++) {
    try {
      const handle = await open(join(dir, nameOf(n)), 'wx');
      await handle.close();
      return n;
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code !== 'EEXIST') throw error;
    }
  }
  throw new Error(`no free number in ${dir} after ${maxTries} tries`);
};
