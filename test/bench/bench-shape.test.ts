import { execFile } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { describe, expect, it } from 'vitest';
import { BENCHMARKS } from '../../bench/run.ts';

/**
 * The benchmarks run, on tiny inputs and one iteration (`--smoke`), and print well-formed lines.
 * No figure is asserted: timings belong to `npm run bench` (docs/PERFORMANCE.md), never to a test.
 */

const ROOT = fileURLToPath(new URL('../..', import.meta.url));
const run = promisify(execFile);

describe('npm run bench -- --smoke', () => {
  it('prints one JSON object per line for every benchmark, with name, value, unit and a consistent ratio', async () => {
    // Prepare
    const expected = BENCHMARKS.flatMap((bench) => [...bench.names]);

    // Act
    const { stdout } = await run(process.execPath, ['--import', 'tsx', 'bench/run.ts', '--smoke'], {
      cwd: ROOT,
      maxBuffer: 16 * 1024 * 1024,
      timeout: 170_000,
    });

    // Assess
    const lines = stdout.trim().split('\n');
    const records = lines.map((line) => JSON.parse(line) as Record<string, unknown>);
    expect(records.map((record) => record['name'])).toEqual(expected);
    for (const record of records) {
      expect(typeof record['name']).toBe('string');
      expect(typeof record['unit']).toBe('string');
      expect(Number.isFinite(record['value'])).toBe(true);
      if (record['baseline'] !== undefined) {
        expect(Number.isFinite(record['baseline'])).toBe(true);
        expect(record['ratio']).toBeCloseTo(Number(record['value']) / Number(record['baseline']), 2);
      }
      if (record['goal'] !== undefined) expect(typeof record['met']).toBe('boolean');
    }
  }, 180_000);
});
