import { readFile } from 'node:fs/promises';
import { beforeAll, describe, expect, it } from 'vitest';
import { explainTraces, SNAPSHOT } from '../support/explain-traces.ts';

/**
 * `postdesk explain` decides every fixture mail as it did when the snapshot was written
 * (scripts/explain-traces.ts): the same stages, verdicts, reasons, messages and drafts. A change
 * that means to alter a trace regenerates the snapshot, and its diff shows what changed.
 */

const snapshot = JSON.parse(await readFile(SNAPSHOT, 'utf8')) as Record<string, unknown>;
let traces: Record<string, unknown>;

beforeAll(async () => {
  traces = await explainTraces();
}, 120_000);

describe('explain traces of every fixture mail', () => {
  it('covers the same fixtures as the snapshot', () => {
    expect(Object.keys(traces)).toEqual(Object.keys(snapshot));
  });

  it.each(Object.keys(snapshot))('%s', (label) => {
    expect(traces[label]).toEqual(snapshot[label]);
  });
});
