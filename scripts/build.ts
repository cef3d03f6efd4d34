import { copyFile, mkdir, readdir, readFile, rm, stat } from 'node:fs/promises';
import { basename, dirname, join, relative, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { gzipSync } from 'node:zlib';
import { type BuildOptions, build, type Metafile } from 'esbuild';
import { BUNDLE_ALIASES, SPLITTING } from './bundle-options.ts';

/**
 * `npm run build`: one bundle per Lambda function, `functions/<name>/handler.ts` ->
 * `dist/<name>/index.mjs` (+ `.map`), exporting `handler`.
 *
 * Choices, each measured rather than assumed (`--compare` prints the numbers):
 * - The AWS SDK v3 is bundled, not left external to the runtime's copy: bundling tree-shakes it to
 *   the commands we send, pins the version we tested against, and loads faster at cold start than
 *   the runtime's full SDK (reference/aws-ses-inbound.md §4.3).
 * - ESM output for Node 20+ with a `createRequire` banner: CommonJS dependencies (mailparser,
 *   iconv-lite...) still `require()` Node built-ins from inside an ES module.
 * - Pure JavaScript only. The functions run on arm64 (Graviton); a native addon built on an x86
 *   laptop would crash there, so a `.node` file in the bundle fails the build.
 * - Minified, with an external source map without sources (set NODE_OPTIONS=--enable-source-maps
 *   on the function for readable stack traces).
 * - iconv-lite and encoding-japanese replaced by TextDecoder stand-ins, and the lazily imported
 *   HTML converter split into a chunk of its own (scripts/bundle-options.ts says why; the figures
 *   are in docs/PERFORMANCE.md). `split: false` gives the single file CDK bundling makes.
 */

const root = resolve(dirname(fileURLToPath(import.meta.url)), '..');

const BANNER = [
  "import { createRequire as __postdeskCreateRequire } from 'node:module';",
  "import { fileURLToPath as __postdeskFileURLToPath } from 'node:url';",
  "import { dirname as __postdeskDirname } from 'node:path';",
  'const require = __postdeskCreateRequire(import.meta.url);',
  'const __filename = __postdeskFileURLToPath(import.meta.url);',
  'const __dirname = __postdeskDirname(__filename);',
].join('\n');

/**
 * esbuild settings shared by every function. The entry is written to `outfile` (its name without
 * `.mjs` names the entry); with `split` (the default) lazily imported code goes to
 * `chunks/` next to it.
 */
export const bundleOptions = (
  entry: string,
  outfile: string,
  options: { split?: boolean; aliases?: boolean } = {},
): BuildOptions => ({
  entryPoints: [entry],
  ...(options.split === false
    ? { outfile }
    : { ...SPLITTING, outdir: dirname(outfile), entryNames: basename(outfile, '.mjs') }),
  ...(options.aliases === false ? {} : { alias: { ...BUNDLE_ALIASES } }),
  bundle: true,
  platform: 'node',
  target: 'node20',
  format: 'esm',
  mainFields: ['module', 'main'],
  minify: true,
  sourcemap: 'external',
  sourcesContent: false,
  legalComments: 'none',
  metafile: true,
  banner: { js: BANNER },
  logLevel: 'warning',
});

/** Packages whose bytes count as "the AWS SDK" in the report. */
const isAwsSdk = (pkg: string): boolean =>
  pkg.startsWith('@aws-sdk/') ||
  pkg.startsWith('@smithy/') ||
  pkg.startsWith('@aws-crypto/') ||
  pkg === '@aws/lambda-invoke-store';

/** `node_modules/@scope/name/...` -> `@scope/name`; our own files -> `(postdesk)`. */
const packageOf = (input: string): string => {
  const at = input.lastIndexOf('node_modules/');
  if (at === -1) return '(postdesk)';
  const parts = input.slice(at + 'node_modules/'.length).split('/');
  return parts[0]?.startsWith('@') ? `${parts[0]}/${parts[1] ?? ''}` : (parts[0] ?? '(unknown)');
};

export interface BundleReport {
  name: string;
  entry: string;
  outfile: string;
  /** The entry file's size, what Lambda loads at cold start. */
  bytes: number;
  /** The entry and every chunk it may load later. */
  totalBytes: number;
  gzipBytes: number;
  mapBytes: number;
  /** Bytes of the output that come from the AWS SDK (`@aws-sdk/*`, `@smithy/*`...). */
  awsSdkBytes: number;
  /** The largest contributors, by bytes in the output. */
  packages: { name: string; bytes: number }[];
  /** With `--compare`: the same bundle with the SDK left external (to the runtime's copy). */
  sdkExternal?: { bytes: number; gzipBytes: number } | undefined;
}

/** Bytes per package over every output (entry and chunks): a package counts wherever it landed. */
const byPackage = (metafile: Metafile): Map<string, number> => {
  const outputs = Object.values(metafile.outputs);
  const sizes = new Map<string, number>();
  for (const [input, { bytesInOutput }] of outputs.flatMap((output) => Object.entries(output.inputs))) {
    if (input.endsWith('.node')) {
      throw new Error(`${input} is a native addon; the functions run on arm64 and must be pure JavaScript`);
    }
    const pkg = packageOf(input);
    sizes.set(pkg, (sizes.get(pkg) ?? 0) + bytesInOutput);
  }
  return sizes;
};

/** Every `functions/<name>/handler.ts` that exists. */
export const findFunctions = async (functionsDir = join(root, 'functions')): Promise<string[]> => {
  const entries = await readdir(functionsDir, { withFileTypes: true }).catch(() => []);
  const names: string[] = [];
  for (const entry of entries) {
    if (!entry.isDirectory()) continue;
    const handler = join(functionsDir, entry.name, 'handler.ts');
    if (
      await stat(handler).then(
        (s) => s.isFile(),
        () => false,
      )
    )
      names.push(entry.name);
  }
  return names.sort();
};

export const buildFunction = async (
  name: string,
  options: { outDir: string; compare?: boolean; config?: string | undefined; split?: boolean },
): Promise<BundleReport> => {
  const entry = join(root, 'functions', name, 'handler.ts');
  const outDir = join(options.outDir, name);
  const outfile = join(outDir, 'index.mjs');
  await rm(outDir, { recursive: true, force: true });
  await mkdir(outDir, { recursive: true });
  const split = options.split ?? true;
  const result = await build(bundleOptions(entry, outfile, { split }));
  const sizes = byPackage(result.metafile ?? { inputs: {}, outputs: {} });
  const bytes = (await stat(outfile)).size;
  const code = await readFile(outfile);
  let totalBytes = 0;
  for (const file of await readdir(outDir, { recursive: true, encoding: 'utf8' })) {
    if (file.endsWith('.mjs')) totalBytes += (await stat(join(outDir, file))).size;
  }
  const report: BundleReport = {
    name,
    entry: relative(root, entry),
    outfile: relative(root, outfile),
    bytes,
    totalBytes,
    gzipBytes: gzipSync(code).length,
    mapBytes: (await stat(`${outfile}.map`)).size,
    awsSdkBytes: [...sizes].filter(([pkg]) => isAwsSdk(pkg)).reduce((sum, [, n]) => sum + n, 0),
    packages: [...sizes]
      .map(([pkgName, n]) => ({ name: pkgName, bytes: n }))
      .sort((a, b) => b.bytes - a.bytes)
      .slice(0, 8),
  };
  if (options.compare) {
    const external = await build({
      ...bundleOptions(entry, outfile, { split }),
      write: false,
      sourcemap: false,
      external: ['@aws-sdk/*', '@smithy/*', '@aws-crypto/*'],
    });
    const text = external.outputFiles?.find((file) => file.path === outfile)?.contents ?? new Uint8Array();
    report.sdkExternal = { bytes: text.length, gzipBytes: gzipSync(text).length };
  }
  if (options.config !== undefined) {
    // POSTDESK_CONFIG=postdesk.config.yaml then finds it next to index.mjs (LAMBDA_TASK_ROOT).
    await copyFile(resolve(options.config), join(outDir, 'postdesk.config.yaml'));
  }
  return report;
};

const kib = (n: number): string => `${(n / 1024).toFixed(1)} KiB`;

const formatReport = (reports: readonly BundleReport[]): string =>
  reports
    .map((report) => {
      const lines = [
        `${report.name}: ${report.outfile}  ${kib(report.bytes)} (gzip ${kib(report.gzipBytes)}), map ${kib(report.mapBytes)}; with its lazy chunks ${kib(report.totalBytes)}`,
        `  AWS SDK share: ${kib(report.awsSdkBytes)} of the output (bundled, tree-shaken)`,
        `  largest: ${report.packages.map((pkg) => `${pkg.name} ${kib(pkg.bytes)}`).join(', ')}`,
      ];
      if (report.sdkExternal) {
        lines.push(
          `  with the SDK external instead: ${kib(report.sdkExternal.bytes)} (gzip ${kib(report.sdkExternal.gzipBytes)}), plus the runtime's whole SDK at cold start`,
        );
      }
      return lines.join('\n');
    })
    .join('\n');

const main = async (): Promise<number> => {
  const { values } = parseArgs({
    options: {
      json: { type: 'boolean', default: false },
      compare: { type: 'boolean', default: false },
      'out-dir': { type: 'string', default: join(root, 'dist') },
      config: { type: 'string' },
    },
  });
  const names = await findFunctions();
  if (names.length === 0) {
    process.stderr.write('build: no functions/*/handler.ts found\n');
    return 1;
  }
  const reports: BundleReport[] = [];
  const failures: { name: string; error: string }[] = [];
  // One broken function does not hide the others' sizes; the exit code still says it failed.
  for (const name of names) {
    try {
      reports.push(
        await buildFunction(name, {
          outDir: resolve(values['out-dir']),
          compare: values.compare,
          config: values.config,
        }),
      );
    } catch (error) {
      failures.push({ name, error: error instanceof Error ? error.message : String(error) });
    }
  }
  if (values.json)
    process.stdout.write(
      `${JSON.stringify(failures.length > 0 ? { bundles: reports, failures } : reports, null, 2)}\n`,
    );
  else {
    if (reports.length > 0) process.stdout.write(`${formatReport(reports)}\n`);
    for (const failure of failures) process.stderr.write(`build: ${failure.name} failed: ${failure.error}\n`);
  }
  return failures.length > 0 ? 1 : 0;
};

if (process.argv[1] !== undefined && resolve(process.argv[1]) === fileURLToPath(import.meta.url)) {
  main().then(
    (code) => {
      process.exitCode = code;
    },
    (error: unknown) => {
      process.stderr.write(`build failed: ${error instanceof Error ? error.message : String(error)}\n`);
      process.exitCode = 1;
    },
  );
}
