/**
 * `npm run bench`: every performance benchmark, one JSON object per line on stdout (progress on
 * stderr). Each benchmark script runs in a process of its own, one after another, so none
 * disturbs another; the figures, the baselines and how each is measured are in
 * docs/PERFORMANCE.md.
 *
 *   npm run bench                                   # everything, under five minutes on 2 cores
 *   npm run bench -- --only e2e_latency             # one benchmark (repeatable, or a,b,c)
 *   npm run bench -- --smoke                        # tiny inputs, one iteration: the shape only
 *   npm run bench -- --runs 5                       # repetitions, for every benchmark
 *   npm run bench -- --only inbound_variant_both    # a proposed build variant (also --variants)
 *   npm run bench -- --only inbound_bundle_size --profile   # where the import's time goes
 *
 * The exit code is 1 when a benchmark failed to run, not when it missed its goal: the `met`
 * field says that, and the summary on stderr lists every goal.
 */
import { spawn } from 'node:child_process';
import { join } from 'node:path';
import { isMain, parseBenchArgs, progress, ROOT } from './lib.ts';

/** Each script and the lines it prints, in the order they run. */
export const BENCHMARKS = [
  {
    script: 'cold-start.ts',
    names: [
      'inbound_bundle_size',
      'inbound_cold_start',
      'inbound_cold_start_source_maps',
      'inbound_first_invoke',
    ],
    optIn: ['inbound_variant_split', 'inbound_variant_charset_shim', 'inbound_variant_both'],
  },
  { script: 'e2e.ts', names: ['e2e_latency'], optIn: [] },
  { script: 'pipeline.ts', names: ['pipeline_throughput', 'pipeline_throughput_deliver'], optIn: [] },
  {
    script: 'big-mail.ts',
    names: [
      'big_mail_peak_rss',
      'big_mail_peak_rss_gitlab',
      'big_mail_peak_rss_attachment_only',
      'big_mail_peak_rss_text_only',
    ],
    optIn: [],
  },
  {
    script: 'trim-compare.ts',
    names: ['trim_postdesk', 'trim_planer', 'trim_email_reply_parser'],
    optIn: [],
  },
] as const;

/** The names `--only` accepts. */
export const BENCHMARK_NAMES: readonly string[] = BENCHMARKS.flatMap((bench) => [
  ...bench.names,
  ...bench.optIn,
]);

interface Line {
  name: string;
  value: number;
  unit: string;
  goal?: string;
  met?: boolean;
}

const isLine = (value: unknown): value is Line => {
  if (typeof value !== 'object' || value === null) return false;
  const record = value as Record<string, unknown>;
  return (
    typeof record['name'] === 'string' &&
    (typeof record['value'] === 'number' || record['value'] === null) &&
    typeof record['unit'] === 'string'
  );
};

/** Runs one script, passing its JSON lines through (checked) and its stderr as it comes. */
const runScript = (script: string, args: readonly string[], lines: Line[]): Promise<number> =>
  new Promise((resolve, reject) => {
    // --expose-gc: a benchmark may collect between passes, so one pass's garbage is not the next's cost.
    const child = spawn(
      process.execPath,
      ['--expose-gc', '--import', 'tsx', join(ROOT, 'bench', script), ...args],
      {
        cwd: ROOT,
        stdio: ['ignore', 'pipe', 'inherit'],
      },
    );
    let pending = '';
    let bad = 0;
    const take = (text: string): void => {
      if (text.trim() === '') return;
      try {
        const parsed: unknown = JSON.parse(text);
        if (!isLine(parsed)) throw new Error('not {name, value, unit}');
        lines.push(parsed);
        process.stdout.write(`${JSON.stringify(parsed)}\n`);
      } catch (error) {
        bad += 1;
        progress(`${script} printed a line that is not a benchmark result (${String(error)}): ${text}`);
      }
    };
    child.stdout.setEncoding('utf8');
    child.stdout.on('data', (chunk: string) => {
      pending += chunk;
      const parts = pending.split('\n');
      pending = parts.pop() ?? '';
      for (const part of parts) take(part);
    });
    child.once('error', reject);
    child.once('close', (code) => {
      take(pending);
      resolve(code === 0 && bad === 0 ? 0 : (code ?? 1) || 1);
    });
  });

const main = async (): Promise<number> => {
  const args = parseBenchArgs();
  const unknown = args.only.filter((name) => !BENCHMARK_NAMES.includes(name));
  if (unknown.length > 0) {
    progress(`unknown benchmark ${unknown.join(', ')}; known: ${BENCHMARK_NAMES.join(', ')}`);
    return 2;
  }
  const passed = [
    ...(args.smoke ? ['--smoke'] : []),
    ...(args.runs === undefined ? [] : ['--runs', String(args.runs)]),
    ...args.only.flatMap((name) => ['--only', name]),
    ...args.rest,
  ];
  const started = performance.now();
  const lines: Line[] = [];
  let failed = 0;
  for (const bench of BENCHMARKS) {
    const all: readonly string[] = [...bench.names, ...bench.optIn];
    const asked = args.only.length === 0 || args.only.some((name) => all.includes(name));
    if (!asked) continue;
    progress(`running bench/${bench.script}`);
    const code = await runScript(bench.script, passed, lines);
    if (code !== 0) {
      failed += 1;
      progress(`bench/${bench.script} failed (exit ${code})`);
    }
  }
  const goals = lines.filter((line) => line.goal !== undefined);
  progress(
    `done in ${Math.round((performance.now() - started) / 1000)} s; goals: ${
      goals.map((line) => `${line.name} ${line.met ? 'met' : 'NOT met'} (${line.goal})`).join('; ') ||
      'none run'
    }`,
  );
  return failed > 0 ? 1 : 0;
};

if (isMain(import.meta.url)) process.exitCode = await main();
