import { createHash } from 'node:crypto';
import { createReadStream, readFileSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { Readable } from 'node:stream';
import { fileURLToPath } from 'node:url';
import { type Limits, LimitsSchema } from '../../core/config/schema.ts';
import type { ParsedMail } from '../../core/model.ts';
import { parseMail } from '../../core/stages/parse/index.ts';
import type { StageResult } from '../../core/trace.ts';

const FIXTURES = fileURLToPath(new URL('../fixtures/', import.meta.url));

/** Path of a corpus mail, e.g. `charsets/mail-iso-2022-jp-body.eml`. */
export const corpusMail = (name: string): string => join(FIXTURES, 'corpus/emails', name);

/** Path of a hand-written parse fixture (test/fixtures/mail/parse/README.md). */
export const parseFixture = (name: string): string => join(FIXTURES, 'mail/parse', name);

export const limitsWith = (overrides: Partial<Limits> = {}): Limits => LimitsSchema.parse(overrides);

/** An `open` that streams a file and counts how often it was called. */
export const fileOpener = (path: string): { open: () => Promise<Readable>; calls: () => number } => {
  let calls = 0;
  return {
    open: async () => {
      calls++;
      return createReadStream(path);
    },
    calls: () => calls,
  };
};

/** An `open` over bytes held in memory, delivered in chunks of `chunkSize`. */
export const bufferOpener =
  (bytes: Buffer | string, chunkSize = 64 * 1024): (() => Promise<Readable>) =>
  async () => {
    const buffer = typeof bytes === 'string' ? Buffer.from(bytes, 'latin1') : bytes;
    const chunks: Buffer[] = [];
    for (let offset = 0; offset < buffer.length; offset += chunkSize) {
      chunks.push(buffer.subarray(offset, offset + chunkSize));
    }
    return Readable.from(chunks);
  };

/** Parses a fixture file with the default limits (or the ones given), passing its size like S3 does. */
export const parseFile = (path: string, limits: Limits = limitsWith()): Promise<StageResult<ParsedMail>> =>
  parseMail(fileOpener(path).open, { limits, size: statSync(path).size });

/** The parsed mail, or a failed assertion naming the reason. */
export const parsedOf = (result: StageResult<ParsedMail>): ParsedMail => {
  if (!result.ok) throw new Error(`expected the mail to parse, got ${result.reason}: ${result.message}`);
  return result.value;
};

export const parseOk = async (path: string, limits?: Limits): Promise<ParsedMail> =>
  parsedOf(await parseFile(path, limits));

export const readAll = async (stream: Readable): Promise<Buffer> => {
  const chunks: Buffer[] = [];
  for await (const chunk of stream) chunks.push(Buffer.isBuffer(chunk) ? chunk : Buffer.from(chunk));
  return Buffer.concat(chunks);
};

export const sha256 = (bytes: Buffer): string => createHash('sha256').update(bytes).digest('hex');

export const fileBytes = (path: string): Buffer => readFileSync(path);
