import { createReadStream, mkdtempSync, readdirSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, relative } from 'node:path';
import type { Readable } from 'node:stream';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { build } from 'esbuild';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { LimitsSchema } from '../../core/config/schema.ts';
import type { parseMail as ParseMail } from '../../core/stages/parse/index.ts';
import { bundleOptions } from '../../scripts/build.ts';

const ROOT = fileURLToPath(new URL('../../', import.meta.url));
const FIXTURES = join(ROOT, 'test/fixtures');
const PARSE_ENTRY = join(ROOT, 'core/stages/parse/index.ts');
const limits = LimitsSchema.parse({});

/** Every `.eml` under test/fixtures, charsets and all. */
const emlFiles = (dir: string): string[] =>
  readdirSync(dir, { recursive: true, encoding: 'utf8' })
    .filter((file) => file.endsWith('.eml'))
    .map((file) => join(dir, file))
    .filter((file) => statSync(file).isFile())
    .sort();

/** A parse result as plain data: functions (attachment openers) dropped, bytes as hex. */
const plain = (value: unknown): unknown =>
  JSON.parse(
    JSON.stringify(value, (_key, item: unknown) => {
      if (typeof item === 'function') return '[function]';
      if (item instanceof Uint8Array) return Buffer.from(item).toString('hex');
      if (
        typeof item === 'object' &&
        item !== null &&
        (item as { type?: unknown }).type === 'Buffer' &&
        Array.isArray((item as { data?: unknown }).data)
      )
        return Buffer.from((item as { data: number[] }).data).toString('hex');
      return item;
    }),
  );

let dir = '';
const parsers: { aliased?: typeof ParseMail; real?: typeof ParseMail } = {};

beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), 'postdesk-aliases-'));
  for (const aliases of [true, false]) {
    const outfile = join(dir, aliases ? 'aliased' : 'real', 'parse.mjs');
    const result = await build({
      ...bundleOptions(PARSE_ENTRY, outfile, { split: false, aliases }),
      sourcemap: false,
    });
    const inputs = Object.keys(result.metafile?.inputs ?? {});
    // The two bundles really differ: one has the packages, the other the stand-ins.
    expect(inputs.some((input) => input.includes('node_modules/iconv-lite/'))).toBe(!aliases);
    expect(inputs.some((input) => input.includes('bundle-shims/iconv-lite.cjs'))).toBe(aliases);
    const module = (await import(pathToFileURL(outfile).href)) as { parseMail: typeof ParseMail };
    parsers[aliases ? 'aliased' : 'real'] = module.parseMail;
  }
}, 120_000);

afterAll(() => {
  if (dir !== '') rmSync(dir, { recursive: true, force: true });
});

describe('bundle aliases (iconv-lite, encoding-japanese stand-ins)', () => {
  const files = emlFiles(FIXTURES);

  it('finds the fixture mails, charset ones among them', () => {
    expect(files.length).toBeGreaterThan(50);
    expect(files.some((file) => /charset|iso-2022|japan|koi8|cp1252|windows/i.test(file))).toBe(true);
  });

  it.each(files.map((file) => [relative(FIXTURES, file), file] as const))(
    'parses %s to the same result with and without the stand-ins',
    async (_name, file) => {
      // Prepare
      const { aliased, real } = parsers;
      if (aliased === undefined || real === undefined) throw new Error('bundles not built');
      const open = async (): Promise<Readable> => createReadStream(file);
      // Act
      const [withShims, withPackages] = await Promise.all([
        aliased(open, { limits }).catch((error: unknown) => ({ threw: String(error) })),
        real(open, { limits }).catch((error: unknown) => ({ threw: String(error) })),
      ]);
      // Assess
      expect(plain(withShims)).toEqual(plain(withPackages));
    },
  );
});
