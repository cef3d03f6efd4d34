/**
 * Scores reply trimmers on the trimming corpus (test/fixtures/trim-corpus/, MANIFEST.md there):
 * Postdesk's trimmer (core/stages/render/reply-trim.ts, with render's "nothing left: show it all"
 * rule), planer 1.2.0 (`extractFrom(text, 'text/plain')`, the JavaScript port of talon) and
 * email-reply-parser 2.3.5 (crisp, `read(text).getVisibleText()`), on the same cases in the same
 * run. A case counts when the output is the expected reply exactly, trailing white space and
 * blank lines at the ends aside. Prints one JSON object per line:
 * `{"name", "value", "unit", "cases", "exact", "pct", "kept", "timeouts", "bySource"}`, where
 * `value` is `pct` and `kept` counts the cases whose output still holds the whole expected reply.
 *
 *   node --import tsx bench/trim-compare.ts [--smoke] [--only trim_planer] [--timeout-ms=2000]
 *
 * planer and email-reply-parser run in a worker thread, one case at a time, each with a time
 * limit (`--timeout-ms`, 2 s): email-reply-parser backtracks badly on some inputs without its
 * optional RE2 dependency (docs/RENDER.md), and a case that runs out of time counts as wrong and
 * gets a fresh worker. `--smoke` scores every tenth case (the shape only).
 */
import { fileURLToPath } from 'node:url';
import { Worker } from 'node:worker_threads';
import {
  isExact,
  keepsReply,
  loadTrimCorpus,
  postdeskReply,
  type TrimCase,
  unixLines,
} from '../test/render/trim-corpus.ts';
import { emit, isMain, parseBenchArgs, progress, round, wanted } from './lib.ts';

type Tool = 'planer' | 'email-reply-parser';

/** The worker: loads both libraries, trims what it is sent, answers `{id, output}` or `{id, error}`. */
const WORKER_SOURCE = `
const { parentPort, workerData } = require('node:worker_threads');
const planer = require(workerData.planer);
const ready = import(workerData.erp).then((module) => module.default);
parentPort.on('message', async ({ id, tool, text }) => {
  try {
    const output =
      tool === 'planer'
        ? planer.extractFrom(text, 'text/plain')
        : new (await ready)().read(text).getVisibleText();
    parentPort.postMessage({ id, output: String(output) });
  } catch (error) {
    parentPort.postMessage({ id, error: String(error) });
  }
});
`;

interface Answer {
  id: number;
  output?: string;
  error?: string;
}

/** One worker at a time; replaced when a case runs out of time. */
export class GuardedTrimmer {
  private worker: Worker | undefined;
  private next = 0;

  constructor(private readonly timeoutMs: number) {}

  private start(): Worker {
    const worker = new Worker(WORKER_SOURCE, {
      eval: true,
      workerData: {
        planer: fileURLToPath(import.meta.resolve('planer')),
        erp: import.meta.resolve('email-reply-parser'),
      },
    });
    worker.unref();
    this.worker = worker;
    return worker;
  }

  /** The output, or `undefined` when the case failed or ran out of time. */
  run(tool: Tool, text: string): Promise<{ output: string | undefined; timedOut: boolean }> {
    const worker = this.worker ?? this.start();
    const id = this.next++;
    return new Promise((resolve) => {
      const timer = setTimeout(() => {
        worker.off('message', onMessage);
        this.worker = undefined;
        void worker.terminate();
        resolve({ output: undefined, timedOut: true });
      }, this.timeoutMs);
      const onMessage = (answer: Answer): void => {
        if (answer.id !== id) return;
        clearTimeout(timer);
        worker.off('message', onMessage);
        resolve({ output: answer.output, timedOut: false });
      };
      worker.on('message', onMessage);
      worker.postMessage({ id, tool, text });
    });
  }

  async close(): Promise<void> {
    await this.worker?.terminate();
    this.worker = undefined;
  }
}

interface Score {
  name: string;
  cases: number;
  exact: number;
  pct: number;
  kept: number;
  timeouts: number;
  bySource: Record<string, { cases: number; exact: number }>;
}

const score = async (
  name: string,
  cases: readonly TrimCase[],
  trim: (text: string) => Promise<{ output: string | undefined; timedOut: boolean }>,
): Promise<Score> => {
  let exact = 0;
  let kept = 0;
  let timeouts = 0;
  const bySource: Score['bySource'] = {};
  for (const trimCase of cases) {
    const { output, timedOut } = await trim(unixLines(trimCase.input));
    if (timedOut) timeouts += 1;
    const right = output !== undefined && isExact(output, trimCase.expected);
    if (output !== undefined && keepsReply(output, trimCase.expected)) kept += 1;
    if (right) exact += 1;
    const source = bySource[trimCase.source] ?? { cases: 0, exact: 0 };
    bySource[trimCase.source] = source;
    source.cases += 1;
    if (right) source.exact += 1;
  }
  return {
    name,
    cases: cases.length,
    exact,
    pct: round((100 * exact) / cases.length, 1),
    kept,
    timeouts,
    bySource,
  };
};

const main = async (): Promise<void> => {
  const args = parseBenchArgs();
  const timeoutArg = args.rest.find((arg) => arg.startsWith('--timeout-ms='));
  const timeoutMs = timeoutArg === undefined ? 2000 : Number(timeoutArg.slice('--timeout-ms='.length));
  const all = loadTrimCorpus();
  const cases = args.smoke ? all.filter((_, index) => index % 10 === 0) : all;
  progress(`trim-compare: ${cases.length} cases, ${timeoutMs} ms per case for the libraries`);
  const guarded = new GuardedTrimmer(timeoutMs);
  const scores: Score[] = [];
  try {
    if (wanted(args, 'trim_postdesk')) {
      scores.push(
        await score('trim_postdesk', cases, async (text) => ({
          output: postdeskReply(text),
          timedOut: false,
        })),
      );
    }
    if (wanted(args, 'trim_planer')) {
      scores.push(await score('trim_planer', cases, (text) => guarded.run('planer', text)));
    }
    if (wanted(args, 'trim_email_reply_parser')) {
      scores.push(
        await score('trim_email_reply_parser', cases, (text) => guarded.run('email-reply-parser', text)),
      );
    }
  } finally {
    await guarded.close();
  }
  const others = scores.filter((entry) => entry.name !== 'trim_postdesk');
  const best = others.length === 0 ? undefined : Math.max(...others.map((entry) => entry.pct));
  for (const entry of scores) {
    const { name, ...figures } = entry;
    if (name === 'trim_postdesk') {
      const lead = best === undefined ? undefined : round(entry.pct - best, 1);
      const met = entry.pct >= 90 && (lead === undefined || lead >= 15);
      emit(
        { name, value: entry.pct, unit: '%', ...figures, ...(lead === undefined ? {} : { lead }) },
        { of: 'value', op: '>=', limit: 90 },
      );
      progress(
        `trim_postdesk goal (>= 90 % exact, >= 15 points over the best library): ${met ? 'met' : 'NOT met'}`,
      );
    } else {
      emit({ name, value: entry.pct, unit: '%', ...figures });
    }
  }
};

if (isMain(import.meta.url)) await main();
