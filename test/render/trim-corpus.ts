/**
 * The reply-trimming corpus (test/fixtures/trim-corpus/, see its MANIFEST.md): mail bodies from
 * six public projects' test suites with the visible reply each project's tests assert. Shared by
 * test/render/trim-corpus.test.ts and bench/trim-compare.ts.
 */
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { trimReply } from '../../core/stages/render/reply-trim.ts';

export const TRIM_CORPUS = fileURLToPath(new URL('../fixtures/trim-corpus', import.meta.url));

export interface TrimCase {
  /** `<source>/<upstream test>...`, unique. */
  id: string;
  /** The upstream repository, `owner/name`. */
  source: string;
  commit: string;
  path: string;
  test: string;
  assertion: string;
  licence: string;
  format: 'text';
  input: string;
  expected: string;
}

/** Every case, in file order (one file per source). */
export const loadTrimCorpus = (): TrimCase[] =>
  readdirSync(TRIM_CORPUS)
    .filter((name) => name.endsWith('.json'))
    .sort()
    .flatMap((name) => JSON.parse(readFileSync(join(TRIM_CORPUS, name), 'utf8')) as TrimCase[]);

/** Line ends as `\n`: every trimmer gets the same input. */
export const unixLines = (text: string): string => text.replace(/\r\n?/g, '\n');

/** Line ends, trailing white space and blank lines at both ends do not count. */
export const normaliseReply = (text: string): string => {
  const lines = unixLines(text)
    .split('\n')
    .map((line) => line.trimEnd());
  while (lines.length > 0 && lines[0] === '') lines.shift();
  while (lines.length > 0 && lines[lines.length - 1] === '') lines.pop();
  return lines.join('\n');
};

/** Whether `output` is the expected reply, exactly, after normalising. */
export const isExact = (output: string, expected: string): boolean =>
  normaliseReply(output) === normaliseReply(expected);

/**
 * Whether `output` keeps all of the expected reply, that is hides none of the customer's text:
 * every non-blank line of the expected reply is found, in order, within a line of the output of
 * its own. Extra lines (a quote Postdesk keeps as context) do not count against it.
 */
export const keepsReply = (output: string, expected: string): boolean => {
  const shown = normaliseReply(output).split('\n');
  let at = 0;
  for (const line of normaliseReply(expected).split('\n')) {
    const wanted = line.trim();
    if (wanted === '') continue;
    while (at < shown.length && !(shown[at] ?? '').includes(wanted)) at++;
    if (at === shown.length) return false;
    at++;
  }
  return true;
};

/**
 * Postdesk's visible reply for a plain-text body, as render's body stage shows it: the trimmer's
 * visible lines, or the whole text when trimming would leave nothing (`nothing_left_untrimmed`).
 */
export const postdeskReply = (input: string): string => {
  const text = unixLines(input);
  const { visible } = trimReply(text.split('\n'));
  return visible.every((line) => line.trim() === '') ? text : visible.join('\n');
};

/** The source label of a case: the repository name. */
export const sourceOf = (trimCase: TrimCase): string => trimCase.source;
