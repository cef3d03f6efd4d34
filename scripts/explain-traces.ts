import { writeFile } from 'node:fs/promises';
import { relative } from 'node:path';
import { explainTraces, SNAPSHOT } from '../test/support/explain-traces.ts';

/**
 * Writes test/fixtures/explain-traces/traces.json: the `postdesk explain` trace of every fixture
 * mail (test/support/explain-traces.ts). test/core/explain-traces.test.ts recomputes them and
 * compares; run this only when a change of a trace is intended, and review the diff.
 *
 *     node --import tsx scripts/explain-traces.ts
 */
const traces = await explainTraces();
await writeFile(SNAPSHOT, `${JSON.stringify(traces, null, 2)}\n`);
process.stdout.write(
  `${Object.keys(traces).length} traces written to ${relative(process.cwd(), SNAPSHOT)}\n`,
);
