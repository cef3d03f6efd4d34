/**
 * `inbound_bundle_size` and `inbound_cold_start`: the inbound function as Lambda loads it.
 *
 *   node --import tsx bench/cold-start.ts [--runs 15] [--smoke] [--only NAME] [--variants] [--profile]
 *
 * 1. Builds `functions/inbound/handler.ts` with scripts/build.ts (`buildFunction`, the settings of
 *    `npm run build`) into a temp folder, so the colleagues' `dist/` is never touched, and reports
 *    the minified bundle's size (KB = 1,024 bytes) with what is in it.
 * 2. Starts fresh Node processes, alternating, `--runs` times each:
 *    - `bare`: `node -e 0`;
 *    - `import`: `node -e "import(<bundle>)"` — loading the bundle and running its top level (the
 *      handler, its logger and metrics; the wiring waits for the first invocation);
 *    - `source_maps`: the same with `NODE_OPTIONS=--enable-source-maps`, which the function's
 *      construct sets (infra/constructs/desk-function.ts);
 *    - `first_invoke`: import, then one invocation with an empty SQS batch, which builds the
 *      wiring (environment, config parsed, SDK clients, forge) and flushes the metrics; no network.
 *    Each figure is the median wall time of its processes minus the median of `bare`.
 * The processes get the environment Lambda gives a function (region, function name, Powertools
 * variables), plus a desk config, so the first invocation's wiring succeeds.
 */
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readdirSync, readFileSync, rmSync, statSync } from 'node:fs';
import { SourceMap } from 'node:module';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { performance } from 'node:perf_hooks';
import { pathToFileURL } from 'node:url';
import { build } from 'esbuild';
import { type BundleReport, buildFunction, bundleOptions } from '../scripts/build.ts';
import {
  type BenchArgs,
  emit,
  type Goal,
  isMain,
  median,
  parseBenchArgs,
  progress,
  ROOT,
  round,
  wanted,
} from './lib.ts';

const INBOUND_ENTRY = join(ROOT, 'functions/inbound/handler.ts');

export const SIZE_NAME = 'inbound_bundle_size';
export const COLD_NAME = 'inbound_cold_start';
export const SOURCE_MAPS_NAME = 'inbound_cold_start_source_maps';
export const FIRST_INVOKE_NAME = 'inbound_first_invoke';
/** `--variants`: the build without its code splitting, its stand-ins, or both (never run by default). */
export const VARIANT_NAMES = [
  'inbound_variant_unsplit',
  'inbound_variant_no_shims',
  'inbound_variant_before',
] as const;

const DESK_CONFIG = `domain: desk.example.com
forge:
  kind: gitlab
  url: https://gitlab.example.com
projects:
  - path: acme/game
    key: game
`;

/** What Lambda sets for a function, and what the desk's construct adds (never a credential). */
const lambdaEnv = (sourceMaps: boolean): NodeJS.ProcessEnv => ({
  PATH: process.env['PATH'] ?? '/usr/bin:/bin',
  AWS_REGION: 'us-east-1',
  AWS_DEFAULT_REGION: 'us-east-1',
  AWS_LAMBDA_FUNCTION_NAME: 'postdesk-inbound',
  AWS_LAMBDA_FUNCTION_MEMORY_SIZE: '1024',
  AWS_LAMBDA_FUNCTION_VERSION: '$LATEST',
  POWERTOOLS_SERVICE_NAME: 'postdesk-inbound',
  POWERTOOLS_METRICS_NAMESPACE: 'Postdesk',
  POSTDESK_BUCKET: 'postdesk-bench-bucket',
  POSTDESK_KMS_KEY_ID: 'arn:aws:kms:us-east-1:123456789012:key/bench',
  POSTDESK_SECRET_ID: 'postdesk/bench',
  POSTDESK_CONFIG: DESK_CONFIG,
  ...(sourceMaps ? { NODE_OPTIONS: '--enable-source-maps' } : {}),
});

/**
 * `-e` programs; the bundle's URL is `process.argv[1]`. Each but `bare` reports, on stderr as it
 * exits, the CPU time it used and its peak RSS (`VmHWM`, see bench/lib.ts `peakRssMiB`): CPU time
 * is what a busy machine disturbs least.
 */
const REPORT = `process.on('exit', () => { const u = process.resourceUsage();
  let hwm; try { hwm = Number(/^VmHWM:\\s+(\\d+) kB$/m.exec(require('node:fs').readFileSync('/proc/self/status', 'utf8'))[1]); } catch {}
  process.stderr.write('\\nPDBENCH ' + JSON.stringify({ cpuMs: (u.userCPUTime + u.systemCPUTime) / 1000, rssMiB: (hwm ?? u.maxRSS) / 1024 }) + '\\n'); });`;
const IMPORT = 'import(process.argv[1]).catch((e) => { console.error(e); process.exit(1); })';
const FIRST_INVOKE = `
const context = {
  functionName: 'postdesk-inbound', functionVersion: '$LATEST', memoryLimitInMB: '1024',
  invokedFunctionArn: 'arn:aws:lambda:us-east-1:123456789012:function:postdesk-inbound',
  awsRequestId: 'bench', logGroupName: '/aws/lambda/postdesk-inbound', logStreamName: 'bench',
  callbackWaitsForEmptyEventLoop: true, getRemainingTimeInMillis: () => 60000,
};
import(process.argv[1])
  .then((m) => m.handler({ Records: [] }, context))
  .then((r) => { if (!r || !Array.isArray(r.batchItemFailures)) throw new Error('no batch response'); })
  .catch((e) => { console.error(e); process.exit(1); });
`;

/** `bare` is `node -e 0` as the issue asks; `bare_report` is the same plus the report, for CPU time. */
type Kind = 'bare' | 'bare_report' | 'import' | 'source_maps' | 'first_invoke';

interface Sample {
  ms: number;
  cpuMs: number;
  rssMiB: number;
}

const PROGRAMS: Record<Exclude<Kind, 'bare'>, string> = {
  bare_report: REPORT,
  import: `${REPORT}\n${IMPORT}`,
  source_maps: `${REPORT}\n${IMPORT}`,
  first_invoke: `${REPORT}\n${FIRST_INVOKE}`,
};

const startOnce = (kind: Kind, bundleUrl: string): Sample => {
  const args = kind === 'bare' ? ['-e', '0'] : ['-e', PROGRAMS[kind], bundleUrl];
  const started = performance.now();
  const child = spawnSync(process.execPath, args, {
    env: lambdaEnv(kind === 'source_maps'),
    encoding: 'utf8',
    maxBuffer: 16 * 1024 * 1024,
  });
  const ms = performance.now() - started;
  if (child.status !== 0) {
    throw new Error(`${kind}: node exited ${child.status}: ${child.stderr.slice(-2000)}`);
  }
  const report = /PDBENCH (\{.*\})/.exec(child.stderr)?.[1];
  if (kind !== 'bare' && report === undefined)
    throw new Error(`${kind}: no report on stderr: ${child.stderr}`);
  const figures = report === undefined ? { cpuMs: Number.NaN, rssMiB: Number.NaN } : JSON.parse(report);
  return { ms, ...(figures as { cpuMs: number; rssMiB: number }) };
};

const kib = (bytes: number): number => round(bytes / 1024);

/** Bytes of the bundle that are only evaluated when an HTML mail arrives (render's dynamic import). */
const LAZY_PACKAGES = new Set(['turndown', '@mixmark-io/domino', '@joplin/turndown-plugin-gfm']);

/** `node_modules/@scope/name/...` -> `@scope/name`; our own files -> `(postdesk)`. */
const packageOf = (input: string): string => {
  const at = input.lastIndexOf('node_modules/');
  if (at === -1) return '(postdesk)';
  const parts = input.slice(at + 'node_modules/'.length).split('/');
  return parts[0]?.startsWith('@') ? `${parts[0]}/${parts[1] ?? ''}` : (parts[0] ?? '(unknown)');
};

/**
 * Every package of 10 KB or more in the bundle, and how much of it only runs for an HTML mail
 * (render's dynamic import, in a chunk of its own). The same build again, with the metafile kept
 * and nothing written.
 */
const breakdown = async (outfile: string) => {
  const result = await build({ ...bundleOptions(INBOUND_ENTRY, outfile), write: false, sourcemap: false });
  const outputs = Object.values(result.metafile?.outputs ?? {});
  const sizes = new Map<string, number>();
  for (const [input, { bytesInOutput }] of outputs.flatMap((output) => Object.entries(output.inputs))) {
    sizes.set(packageOf(input), (sizes.get(packageOf(input)) ?? 0) + bytesInOutput);
  }
  const sorted = [...sizes].sort((a, b) => b[1] - a[1]);
  return {
    packages_kb: Object.fromEntries(
      sorted.filter(([, bytes]) => bytes >= 10 * 1024).map(([n, b]) => [n, kib(b)]),
    ),
    lazy_html_converter_kb: kib(
      sorted.filter(([name]) => LAZY_PACKAGES.has(name)).reduce((sum, [, bytes]) => sum + bytes, 0),
    ),
  };
};

// --- variants: the build without one of its choices, measured ---------------------------------

interface Variant {
  name: (typeof VARIANT_NAMES)[number];
  /** Render's lazily imported HTML converter in a chunk of its own (esbuild `splitting`). */
  split: boolean;
  /** iconv-lite and encoding-japanese replaced by the stand-ins of scripts/bundle-options.ts. */
  aliases: boolean;
}

const VARIANTS: readonly Variant[] = [
  { name: 'inbound_variant_unsplit', split: false, aliases: true },
  { name: 'inbound_variant_no_shims', split: true, aliases: false },
  { name: 'inbound_variant_before', split: false, aliases: false },
];

/** Builds a variant into `dir/<name>/`; returns the entry file and the bytes of every output. */
const buildVariant = async (
  dir: string,
  variant: Variant,
): Promise<{ entry: string; entryBytes: number; totalBytes: number }> => {
  const outdir = join(dir, variant.name);
  const entry = join(outdir, 'index.mjs');
  await build({
    ...bundleOptions(INBOUND_ENTRY, entry, { split: variant.split, aliases: variant.aliases }),
    sourcemap: false,
    metafile: false,
  });
  const files = readdirSync(outdir, { recursive: true, encoding: 'utf8' }).filter((file) =>
    file.endsWith('.mjs'),
  );
  return {
    entry,
    entryBytes: statSync(entry).size,
    totalBytes: files.reduce((sum, file) => sum + statSync(join(outdir, file)).size, 0),
  };
};

interface Probe {
  /** The output line's name (`bare` has none). */
  name: string;
  kind: Kind;
  url: string;
  what: string;
  goal?: Goal;
  /** Variant only: the entry file's size and every output file's, in bytes. */
  sizes?: { entryBytes: number; totalBytes: number };
}

// --- profile: where the import's time goes ------------------------------------------------------

interface CpuProfile {
  nodes: {
    id: number;
    callFrame: { functionName: string; url: string; lineNumber: number; columnNumber: number };
    children?: number[];
  }[];
  samples: number[];
  timeDeltas: number[];
}

/**
 * `--profile`: imports the bundle `runs` times under `--cpu-prof` and charges each sample to every
 * package on its stack (through the bundle's source map), once per sample; V8 compiling the
 * module's source text is `[compile]`. Medians over the runs; the profiler itself adds time, so
 * read the shares, not the sum.
 */
const profileImport = async (dir: string, bundle: string, runs: number) => {
  const profiles = join(dir, 'profiles');
  for (let run = 0; run < runs; run++) {
    const child = spawnSync(
      process.execPath,
      [
        '--cpu-prof',
        `--cpu-prof-dir=${profiles}`,
        '--cpu-prof-interval=100',
        '-e',
        IMPORT,
        pathToFileURL(bundle).href,
      ],
      { env: lambdaEnv(false), encoding: 'utf8' },
    );
    if (child.status !== 0)
      throw new Error(`profile: node exited ${child.status}: ${child.stderr.slice(-2000)}`);
  }
  const map = new SourceMap(JSON.parse(readFileSync(`${bundle}.map`, 'utf8')));
  const owner = (frame: CpuProfile['nodes'][number]['callFrame']): string | undefined => {
    if (frame.functionName === 'compileSourceTextModule') return '[compile]';
    if (!frame.url.endsWith('index.mjs')) return undefined;
    const entry = map.findEntry(frame.lineNumber, frame.columnNumber) as { originalSource?: string };
    const source = entry.originalSource ?? '';
    if (source === '') return '[esbuild wrappers]';
    const at = source.lastIndexOf('node_modules/');
    if (at === -1)
      return `(postdesk) ${source
        .replace(/^.*?\/(core|adapters|functions)\//, '$1/')
        .split('/')
        .slice(0, 2)
        .join('/')}`;
    return packageOf(source);
  };
  const perRun: Map<string, number>[] = [];
  for (const file of readdirSync(profiles).filter((name) => name.endsWith('.cpuprofile'))) {
    const profile = JSON.parse(readFileSync(join(profiles, file), 'utf8')) as CpuProfile;
    const byId = new Map(profile.nodes.map((node) => [node.id, node]));
    const parent = new Map<number, number>();
    for (const node of profile.nodes) for (const child of node.children ?? []) parent.set(child, node.id);
    const totals = new Map<string, number>();
    profile.samples.forEach((id, index) => {
      const us = profile.timeDeltas[index] ?? 0;
      totals.set('[total]', (totals.get('[total]') ?? 0) + us);
      const seen = new Set<string>();
      for (let current: number | undefined = id; current !== undefined; current = parent.get(current)) {
        const node = byId.get(current);
        const name = node ? owner(node.callFrame) : undefined;
        if (name !== undefined && !seen.has(name)) {
          seen.add(name);
          totals.set(name, (totals.get(name) ?? 0) + us);
        }
      }
    });
    perRun.push(totals);
  }
  const names = new Set(perRun.flatMap((totals) => [...totals.keys()]));
  return [...names]
    .map((name) => [name, round(median(perRun.map((totals) => totals.get(name) ?? 0)) / 1000)] as const)
    .filter(([, ms]) => ms >= 1)
    .sort((a, b) => b[1] - a[1]);
};

export const runColdStartBench = async (args: BenchArgs): Promise<void> => {
  const variantsAsked =
    args.rest.includes('--variants') || VARIANT_NAMES.some((name) => args.only.includes(name));
  const variants = variantsAsked
    ? VARIANTS.filter((variant) => wanted(args, variant.name) || args.only.length === 0)
    : [];
  const timed = [COLD_NAME, SOURCE_MAPS_NAME, FIRST_INVOKE_NAME].filter((name) => wanted(args, name));
  if (timed.length === 0 && variants.length === 0 && !wanted(args, SIZE_NAME)) return;

  const dir = mkdtempSync(join(tmpdir(), 'postdesk-bench-cold-'));
  try {
    progress(`${SIZE_NAME}: building functions/inbound with scripts/build.ts into ${dir}`);
    const report: BundleReport = await buildFunction('inbound', { outDir: dir });
    const bundle = join(dir, 'inbound', 'index.mjs');
    if (wanted(args, SIZE_NAME)) {
      emit(
        {
          name: SIZE_NAME,
          value: kib(report.bytes),
          unit: 'KB (1,024 bytes) minified, dist/inbound/index.mjs as scripts/build.ts writes it',
          gzip_kb: kib(report.gzipBytes),
          aws_sdk_kb: kib(report.awsSdkBytes),
          // Smoke: the report's top packages; a second build for the full breakdown is too slow there.
          ...(args.smoke
            ? { packages_kb: Object.fromEntries(report.packages.map((pkg) => [pkg.name, kib(pkg.bytes)])) }
            : await breakdown(bundle)),
        },
        { of: 'value', op: '<=', limit: 1500 },
      );
    }

    const url = pathToFileURL(bundle).href;
    const coldGoal: Goal = { of: 'value', op: '<=', limit: 150 };
    const probes: Probe[] = [
      { name: 'bare', kind: 'bare', url, what: 'node -e 0' },
      { name: 'bare_report', kind: 'bare_report', url, what: 'node -e 0 with the CPU report' },
    ];
    if (timed.includes(COLD_NAME)) {
      probes.push({
        name: COLD_NAME,
        kind: 'import',
        url,
        what: 'import of the bundled handler',
        goal: coldGoal,
      });
    }
    if (timed.includes(SOURCE_MAPS_NAME)) {
      probes.push({
        name: SOURCE_MAPS_NAME,
        kind: 'source_maps',
        url,
        what: 'the same import with NODE_OPTIONS=--enable-source-maps',
      });
    }
    if (timed.includes(FIRST_INVOKE_NAME)) {
      probes.push({
        name: FIRST_INVOKE_NAME,
        kind: 'first_invoke',
        url,
        what: 'import plus a first invocation that builds the wiring',
      });
    }
    for (const variant of variants) {
      const built = await buildVariant(dir, variant);
      probes.push({
        name: variant.name,
        kind: 'import',
        url: pathToFileURL(built.entry).href,
        what: `import of a variant build: ${variant.split ? 'split' : 'single file'}, ${
          variant.aliases ? 'with' : 'without'
        } the charset stand-ins`,
        sizes: built,
      });
    }
    if (args.rest.includes('--profile')) {
      const shares = await profileImport(dir, bundle, args.smoke ? 1 : 7);
      emit({
        name: 'inbound_cold_start_profile',
        value: shares.find(([name]) => name === '[total]')?.[1] ?? 0,
        unit: 'ms of profiled samples per import (median of the runs; the profiler adds time)',
        inclusive_ms: Object.fromEntries(shares),
      });
    }
    if (probes.length === 2) return;

    const runs = args.runs ?? (args.smoke ? 1 : 15);
    const samples = new Map<string, Sample[]>(probes.map((probe) => [probe.name, []]));
    // One unmeasured round first: the file cache, and the node binary's own pages.
    for (const probe of probes) startOnce(probe.kind, probe.url);
    for (let run = 0; run < runs; run++) {
      for (const probe of probes) samples.get(probe.name)?.push(startOnce(probe.kind, probe.url));
    }
    const of = (name: string, key: keyof Sample): number[] =>
      (samples.get(name) ?? []).map((sample) => sample[key]);
    const bare = median(of('bare', 'ms'));
    const bareCpu = median(of('bare_report', 'cpuMs'));
    progress(
      `${COLD_NAME}: ${runs} runs each, medians: ${probes
        .map((probe) => `${probe.name} ${round(median(of(probe.name, 'ms')))} ms`)
        .join(', ')}`,
    );
    for (const probe of probes.slice(2)) {
      const values = of(probe.name, 'ms');
      emit(
        {
          name: probe.name,
          value: round(median(values) - bare),
          unit: `ms (${probe.what}; median of ${runs} fresh processes, minus a bare node -e 0)`,
          process_ms: round(median(values)),
          bare_node_ms: round(bare),
          min_ms: round(Math.min(...values) - bare),
          max_ms: round(Math.max(...values) - bare),
          // CPU time (user + system, all threads) of the process minus that of a bare node.
          cpu_ms: round(median(of(probe.name, 'cpuMs')) - bareCpu),
          rss_mib: round(median(of(probe.name, 'rssMiB'))),
          ...(probe.sizes
            ? { entry_kb: kib(probe.sizes.entryBytes), all_chunks_kb: kib(probe.sizes.totalBytes) }
            : {}),
        },
        probe.goal,
      );
    }
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
};

if (isMain(import.meta.url)) {
  await runColdStartBench(parseBenchArgs());
}
