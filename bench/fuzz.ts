/**
 * The fuzz bench: the reliability suite's generators (test/reliability/arbitraries.ts) for many
 * more cases than `npm test` runs, through the whole pipeline on in-memory ports, plus a check that
 * run time grows linearly with mail size. Prints one JSON object per line:
 *
 *   {"name":"fuzz_cases","value":10000,"unit":"cases"}
 *   {"name":"fuzz_failures","value":0,"unit":"cases"}
 *   {"name":"fuzz_outcome_issue","value":...,"unit":"cases"}          (one line per outcome)
 *   {"name":"fuzz_ms","value":...,"unit":"ms"}
 *   {"name":"slope_<shape>","value":2.1,"unit":"t(2n)/t(n)"}          (one line per shape)
 *   {"name":"slope_max","value":2.3,"unit":"t(2n)/t(n)"}
 *
 *   node --import tsx bench/fuzz.ts --cases 10000 [--seed 42] [--slope-scale 1] [--slope-runs 5] [--max-ratio 3]
 *
 * A case fails when the pipeline throws, when its trace has no outcome from the closed list or no
 * reason code, or when its raw mail is gone afterwards. Linear time means t(2n)/t(n) near 2; a
 * quadratic step makes it near 4. Each size is timed several times and the fastest run counts,
 * which a busy machine can only slow down, never speed up, so noise does not fake a good slope.
 * Exit code 1 when a case failed or a slope is above `--max-ratio`.
 */
import { performance } from 'node:perf_hooks';
import { parseArgs } from 'node:util';
import fc from 'fast-check';
import { anyMail, envelopeRecipients, SCALED_SHAPES } from '../test/reliability/arbitraries.ts';
import { createHarness, hasDecision } from '../test/reliability/harness.ts';

const { values } = parseArgs({
  options: {
    cases: { type: 'string', default: '10000' },
    seed: { type: 'string', default: '20260302' },
    'slope-scale': { type: 'string', default: '1' },
    'slope-runs': { type: 'string', default: '5' },
    'max-ratio': { type: 'string', default: '3' },
  },
});

const cases = Number(values.cases);
const seed = Number(values.seed);
const slopeScale = Number(values['slope-scale']);
const slopeRuns = Number(values['slope-runs']);
const maxRatio = Number(values['max-ratio']);

const print = (name: string, value: number, unit: string): void => {
  process.stdout.write(`${JSON.stringify({ name, value, unit })}\n`);
};

// --- fuzz cases ---------------------------------------------------------------------------------

const runCases = async (): Promise<number> => {
  let harness = createHarness();
  const outcomes = new Map<string, number>();
  let failures = 0;
  let done = 0;
  const started = performance.now();
  // Batches of generated cases; a fresh harness every 1,000 keeps the in-memory stores small.
  const batch = 500;
  for (let offset = 0; offset < cases; offset += batch) {
    if (offset % 1000 === 0) harness = createHarness();
    const count = Math.min(batch, cases - offset);
    const mails = fc.sample(fc.tuple(anyMail(), envelopeRecipients()), {
      numRuns: count,
      seed: seed + offset,
    });
    for (const [bytes, recipients] of mails) {
      const id = `fuzz-${offset}-${done}`;
      try {
        const trace = await harness.ingest(bytes, { id, recipients });
        if (!hasDecision(trace)) throw new Error(`no decision: ${trace.outcome}/${trace.reason}`);
        if ((await harness.raw.size(`mail/${id}`)) !== bytes.length) throw new Error('raw mail gone');
        outcomes.set(trace.outcome, (outcomes.get(trace.outcome) ?? 0) + 1);
      } catch (error) {
        failures += 1;
        process.stderr.write(
          `case ${id} failed: ${error instanceof Error ? error.message : String(error)}\n` +
            `  mail (base64): ${bytes.toString('base64').slice(0, 2000)}\n`,
        );
      }
      done += 1;
    }
  }
  const pollution =
    ({} as Record<string, unknown>)['polluted'] !== undefined || Object.keys(Object.prototype).length > 0;
  if (pollution) {
    failures += 1;
    process.stderr.write('Object.prototype was modified during the run\n');
  }
  print('fuzz_cases', done, 'cases');
  print('fuzz_failures', failures, 'cases');
  for (const [outcome, count] of [...outcomes].sort()) print(`fuzz_outcome_${outcome}`, count, 'cases');
  print('fuzz_ms', Math.round(performance.now() - started), 'ms');
  return failures;
};

// --- time vs size -------------------------------------------------------------------------------

/** Fastest of `runs` pipeline runs of one mail, in ms (a fresh harness each, so state does not grow). */
const fastest = async (bytes: Buffer, runs: number): Promise<number> => {
  let best = Number.POSITIVE_INFINITY;
  for (let run = 0; run < runs; run++) {
    const harness = createHarness();
    const started = performance.now();
    const trace = await harness.ingest(bytes);
    const ms = performance.now() - started;
    if (!hasDecision(trace)) throw new Error(`no decision for a scaled mail: ${trace.reason}`);
    best = Math.min(best, ms);
  }
  return best;
};

const runSlopes = async (): Promise<number> => {
  let worst = 0;
  let bad = 0;
  // Warm-up: JIT and lazy imports must not count against the small size.
  for (const shape of Object.values(SCALED_SHAPES)) await fastest(shape.make(4096), 2);
  for (const [name, shape] of Object.entries(SCALED_SHAPES)) {
    const n = Math.round(shape.bytes * slopeScale);
    const small = await fastest(shape.make(n), slopeRuns);
    const large = await fastest(shape.make(2 * n), slopeRuns);
    const ratio = Math.round((large / Math.max(small, 0.01)) * 100) / 100;
    print(`slope_${name}`, ratio, 't(2n)/t(n)');
    print(`slope_${name}_ms_n`, Math.round(small * 10) / 10, 'ms');
    worst = Math.max(worst, ratio);
    if (ratio > maxRatio) {
      bad += 1;
      process.stderr.write(`${name}: t(2n)/t(n) = ${ratio} is above ${maxRatio}: super-linear\n`);
    }
  }
  print('slope_max', worst, 't(2n)/t(n)');
  return bad;
};

const failures = await runCases();
const slopes = await runSlopes();
process.exitCode = failures > 0 || slopes > 0 ? 1 : 0;
