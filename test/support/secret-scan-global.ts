import { mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { TestProject } from 'vitest/node';
import { TEST_SECRET_PREFIX, TEST_SECRET_VALUES } from './test-secret.ts';

/**
 * The suite-wide secret scan, global half (vitest `globalSetup`). Before the run: a fresh folder
 * under the OS temp dir, provided to every worker, where test/support/secret-scan-setup.ts appends
 * every line the worker prints, every swallowed stream write and every test error. After the run:
 * every recorded line is searched for the values of the test secret (test/support/test-secret.ts);
 * one hit fails the run, naming the file, the source and the line (with the value masked).
 *
 *   vitest.config.ts:  setupFiles: ['test/support/secret-scan-setup.ts'],
 *                      globalSetup: ['test/support/secret-scan-global.ts'],
 */

export interface SecretHit {
  file: string;
  /** Where the worker saw it: stdout, stderr, console.error, spied-stdout, test-error... */
  source: string;
  /** The line, with every secret value replaced by `[TEST SECRET]`. */
  line: string;
}

/** Masks the test secret values in a line, so the report does not print them again. */
export const maskSecrets = (line: string): string =>
  [...TEST_SECRET_VALUES, TEST_SECRET_PREFIX].reduce(
    (text, value) => text.split(value).join('[TEST SECRET]'),
    line,
  );

/**
 * True when a line holds a test secret value, or its recognisable prefix alone: a value cut short
 * (an error message truncated with "…", a diff) still betrays that the secret got there.
 */
export const holdsTestSecret = (line: string): boolean =>
  line.includes(TEST_SECRET_PREFIX) || TEST_SECRET_VALUES.some((value) => line.includes(value));

/** Every recorded line of every worker file in `dir` that holds a test secret value. */
export const scanRecords = (dir: string): { lines: number; files: number; hits: SecretHit[] } => {
  const hits: SecretHit[] = [];
  let lines = 0;
  const files = readdirSync(dir).filter((name) => name.endsWith('.log'));
  for (const name of files) {
    for (const record of readFileSync(join(dir, name), 'utf8').split('\n')) {
      if (record === '') continue;
      lines += 1;
      if (!holdsTestSecret(record)) continue;
      const tab = record.indexOf('\t');
      hits.push({
        file: name,
        source: record.slice(0, tab),
        line: maskSecrets(record.slice(tab + 1)).slice(0, 500),
      });
    }
  }
  return { lines, files: files.length, hits };
};

export const formatHits = (hits: readonly SecretHit[]): string =>
  [
    `secret scan: ${hits.length} line${hits.length === 1 ? '' : 's'} printed a value of the test secret (${TEST_SECRET_PREFIX}...):`,
    ...hits.slice(0, 20).map((hit) => `  ${hit.file} [${hit.source}] ${hit.line}`),
    ...(hits.length > 20 ? [`  ... and ${hits.length - 20} more`] : []),
  ].join('\n');

export default function setup(project: TestProject): () => void {
  const dir = mkdtempSync(join(tmpdir(), 'postdesk-secret-scan-'));
  project.provide('postdeskSecretScanDir', dir);
  return function teardown(): void {
    const { lines, files, hits } = scanRecords(dir);
    if (process.env['POSTDESK_SECRET_SCAN_KEEP'] === undefined) rmSync(dir, { recursive: true, force: true });
    if (hits.length === 0) {
      process.stdout.write(`secret scan: ${lines} lines from ${files} workers, no test secret value\n`);
      return;
    }
    const report = formatHits(hits);
    process.stderr.write(`${report}\n`);
    process.exitCode = 1;
    throw new Error(report);
  };
}
