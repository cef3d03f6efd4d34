/**
 * `pipeline_throughput`: mails per second through the pipeline as the issue's table has it, parse
 * -> classify -> route -> render (`processMail` with the plan-only executor: load, parse, authenticate,
 * classify, route, policy, thread, render; nothing written, no forge call), on the fixture corpus
 * (emails/ and replies/talon/standard_replies/), against mailparser's `simpleParser` alone on the
 * same mails. `pipeline_throughput_deliver` adds deliver: every attachment re-read from the raw
 * mail and uploaded to an in-memory forge; ledger, ticket and rate-limit counters written to an
 * in-memory store.
 *
 *   node --expose-gc --import tsx bench/pipeline.ts [--runs 11] [--smoke] [--only NAME]
 *
 * Every mode reads the same bytes the same way (64 KiB chunks streamed from memory). A pass is
 * every mail once; the modes take turns (parser, pipeline, deliver, parser with default options,
 * then again) so load from elsewhere on the machine hits all alike, and each figure is the median
 * pass. Each pass gets a fresh store and forge, so every mail is a new ticket, never a duplicate.
 *
 * The baseline runs simpleParser with the options Postdesk would give mailparser (no HTML-to-text,
 * no linkify): its cheapest setting, so the ratio is not flattered. The default options are
 * measured too (`baseline_default_options`).
 */
import { performance } from 'node:perf_hooks';
import { simpleParser } from 'mailparser';
import { createMemoryObjectStore } from '../adapters/local/memory-object-store.ts';
import { planOnlyExecutor } from '../core/execute.ts';
import { type PipelineDeps, processMail } from '../core/pipeline.ts';
import { systemClock } from '../core/ports.ts';
import { objectStoreState } from '../core/state/index.ts';
import type { DecisionTrace } from '../core/trace.ts';
import { createMemoryForge } from '../test/support/memory-forge.ts';
import {
  type BenchArgs,
  benchConfig,
  benchSecrets,
  type CorpusMail,
  corpusMails,
  emit,
  inboundMail,
  isMain,
  median,
  memoryRawStore,
  parseBenchArgs,
  progress,
  quietLogger,
  round,
  wanted,
} from './lib.ts';

export const NAME = 'pipeline_throughput';
/** The same, through deliver: attachments re-read and uploaded, ledger and ticket written. */
export const DELIVER_NAME = 'pipeline_throughput_deliver';

/** The options Postdesk would run mailparser with: no HTML-to-text, no linkify (DoS guards). */
const LEAN_OPTIONS = {
  skipHtmlToText: true,
  skipTextToHtml: true,
  skipTextLinks: true,
  skipImageLinks: true,
  keepDeliveryStatus: true,
} as const;

interface Pass {
  ms: number;
  /** CPU time of this process (user + system) during the pass: less sensitive to other load. */
  cpuMs: number;
  /** Milliseconds per mail, by corpus position. */
  perMail: number[];
  traces: DecisionTrace[];
}

type Mode = 'parser' | 'parser_default' | 'pipeline' | 'deliver';

const config = benchConfig();

/**
 * One pass over the corpus. Every mode reads the same bytes the same way: a stream of 64 KiB
 * chunks from the in-memory raw store, as an S3 body arrives.
 */
const runPass = async (mode: Mode, mails: readonly CorpusMail[], pass: number): Promise<Pass> => {
  const rawStore = memoryRawStore(new Map(mails.map((mail, index) => [`mail/${index}`, mail.bytes])));
  const store = createMemoryObjectStore();
  const deps: PipelineDeps = {
    config,
    rawStore,
    state: objectStoreState(store, { clock: systemClock }),
    forge: createMemoryForge(),
    secrets: benchSecrets(),
    clock: systemClock,
    logger: quietLogger,
    // Up to render: the forge and the store are not written (the stages of the issue's table).
    ...(mode === 'pipeline' ? { executor: planOnlyExecutor() } : {}),
  };
  const perMail: number[] = [];
  const traces: DecisionTrace[] = [];
  // The previous pass's garbage is collected now, not during this pass (run.ts gives --expose-gc).
  (globalThis as { gc?: () => void }).gc?.();
  const started = performance.now();
  const cpu = process.cpuUsage();
  for (const [index] of mails.entries()) {
    const one = performance.now();
    if (mode === 'parser' || mode === 'parser_default') {
      const stream = await rawStore.open(`mail/${index}`);
      await (mode === 'parser' ? simpleParser(stream, LEAN_OPTIONS) : simpleParser(stream));
    } else {
      traces.push(await processMail(inboundMail(`pass-${pass}-mail-${index}`, `mail/${index}`), deps));
    }
    perMail.push(performance.now() - one);
  }
  const used = process.cpuUsage(cpu);
  return { ms: performance.now() - started, cpuMs: (used.user + used.system) / 1000, perMail, traces };
};

/** Sum of each stage's `ms` over one pass (the trace rounds each to a whole millisecond). */
const stageTotals = (traces: readonly DecisionTrace[]): Record<string, number> => {
  const totals: Record<string, number> = {};
  for (const trace of traces) {
    for (const stage of trace.stages) totals[stage.stage] = (totals[stage.stage] ?? 0) + stage.ms;
  }
  return totals;
};

const MODES: readonly Mode[] = ['parser', 'pipeline', 'deliver', 'parser_default'];

export const runPipelineBench = async (args: BenchArgs): Promise<void> => {
  const names = [NAME, DELIVER_NAME].filter((name) => wanted(args, name));
  if (names.length === 0) return;
  const all = corpusMails();
  // Smoke: three small mails, one pass, to check the bench runs and prints its lines.
  const mails = args.smoke ? all.filter((mail) => mail.bytes.length < 4096).slice(0, 3) : all;
  const runs = args.runs ?? (args.smoke ? 1 : 11);
  const bytes = mails.reduce((sum, mail) => sum + mail.bytes.length, 0);
  progress(`${NAME}: ${mails.length} mails, ${round(bytes / 1e6, 2)} MB, ${runs} passes of each mode`);

  // Warm-up: JIT, the lazily imported HTML converter, mailparser's own lazy requires.
  for (const mode of MODES) await runPass(mode, mails, -1);

  const passes: Record<Mode, Pass[]> = { parser: [], parser_default: [], pipeline: [], deliver: [] };
  for (let run = 0; run < runs; run++) {
    for (const mode of MODES) passes[mode].push(await runPass(mode, mails, run));
    progress(
      `${NAME}: pass ${run + 1}/${runs}: ${MODES.map((mode) => `${mode} ${round(passes[mode].at(-1)?.ms ?? 0)} ms`).join(', ')}`,
    );
  }

  const rate = (mode: Mode): number => mails.length / (median(passes[mode].map((pass) => pass.ms)) / 1000);
  const cpuRate = (mode: Mode): number =>
    mails.length / (median(passes[mode].map((pass) => pass.cpuMs)) / 1000);
  const perMail = (mode: Mode, index: number): number =>
    median(passes[mode].map((pass) => pass.perMail[index] ?? 0));

  /** Where the time goes: per stage, and the mails that cost most beyond what parsing them costs. */
  const explain = (mode: 'pipeline' | 'deliver') => {
    const outcomes: Record<string, number> = {};
    for (const trace of passes[mode][0]?.traces ?? []) {
      outcomes[trace.outcome] = (outcomes[trace.outcome] ?? 0) + 1;
    }
    const totals = passes[mode].map((pass) => stageTotals(pass.traces));
    const stages: Record<string, number> = {};
    for (const stage of new Set(totals.flatMap((total) => Object.keys(total)))) {
      stages[stage] = round(median(totals.map((total) => total[stage] ?? 0)));
    }
    const costliest = mails
      .map((mail, index) => ({
        mail: mail.name,
        kb: round(mail.bytes.length / 1024),
        ms: round(perMail(mode, index), 2),
        parser_ms: round(perMail('parser', index), 2),
      }))
      .sort((a, b) => b.ms - b.parser_ms - (a.ms - a.parser_ms))
      .slice(0, 5);
    return { outcomes, stage_ms_per_pass: stages, costliest };
  };

  const common = {
    unit: `mails/s (median of ${runs} passes over ${mails.length} mails)`,
    baseline: round(rate('parser')),
    baseline_default_options: round(rate('parser_default')),
    corpus_mails: mails.length,
    corpus_bytes: bytes,
  };
  if (wanted(args, NAME)) {
    emit(
      {
        name: NAME,
        value: round(rate('pipeline')),
        ...common,
        ratio_default_options: round(rate('pipeline') / rate('parser_default'), 3),
        ratio_cpu_time: round(cpuRate('pipeline') / cpuRate('parser'), 3),
        ...explain('pipeline'),
      },
      { of: 'ratio', op: '>=', limit: 0.75 },
    );
  }
  if (wanted(args, DELIVER_NAME)) {
    emit({
      name: DELIVER_NAME,
      value: round(rate('deliver')),
      ...common,
      ratio_default_options: round(rate('deliver') / rate('parser_default'), 3),
      ratio_cpu_time: round(cpuRate('deliver') / cpuRate('parser'), 3),
      ...explain('deliver'),
    });
  }
};

if (isMain(import.meta.url)) {
  await runPipelineBench(parseBenchArgs());
}
