import { Marker } from '../constants.ts';

/**
 * Escaping of customer text for GitLab Flavored Markdown.
 *
 * The output is "marked" Markdown: every backslash we add is written as `Marker.escape`, so that
 * `finalize.ts` can still see the customer's own characters when it redacts a quick-action line.
 *
 * What is escaped, and why (reference: GitLab `lib/banzai/filter/markdown_engines/glfm_markdown.rb`,
 * `REFERENCE_CHARS = %w[$ % # & @ ! ~ ^ :]` with comrak's `escaped_char_spans`, which renders `\@`
 * as `<span data-escaped-char>@</span>`, and `EscapedCharFilter` keeps that span for those
 * characters so no reference filter sees them; GitLab's docs: "add a leading backslash \#123"):
 *
 * - `# ! $ % & ~ ^` always: issue `#1`, merge request `!1`, snippet `$1`, milestone `%m`, epic
 *   `&1`, label `~l`, alert `^alert#1`; also headings, math, entities and strikethrough.
 * - `@` unless it follows an ASCII word character: GitLab's user pattern is `(?<!\w)@name`, so
 *   `jane@example.com` stays a linkable address while `@jane`, `@group` and `@all` go inert.
 * - `:` at the start of a line (description lists), after `[word` / `*word` (the `[issue:1]`,
 *   `[vulnerability:1]` and `*iteration:` reference forms) and in `postdesk-upload:` (our own link
 *   scheme, which deliver rewrites).
 * - `\ ` * _ [ ] < > |` : backslash, code, emphasis, links, images, raw HTML (`<img onerror>`,
 *   `<details>`, `<a>` stay text), block quotes and table cells.
 * - Backtick runs that close on the same line are kept as code spans (text mode): GitLab links
 *   nothing inside code, and their content is literal anyway.
 * - `http(s)://` and `ftp://` URLs are wrapped as autolinks `<url>`: an escape inside a URL would
 *   split it (comrak's escaped-char spans cut the text node the autolinker reads), and nothing inside
 *   an autolink is parsed or referenced.
 */

export interface EscapeOptions {
  /**
   * The text starts a line: escape list, heading and setext markers at its start the way turndown
   * does for a text node (`-`, `+ `, `=`, `1. `). Used for HTML text nodes; the plain-text renderer
   * handles line starts itself. @default false
   */
  nodeStart?: boolean;
  /** Keep backtick code spans that close within the text (plain text). @default false */
  codeSpans?: boolean;
  /** Wrap URLs as autolinks. Off inside link text, where a link may not contain another. @default true */
  urls?: boolean;
  /** Escape a `:` at position 0 (a line start in the plain-text renderer). @default false */
  colonAtStart?: boolean;
}

const ESC = Marker.escape;

/** Characters escaped wherever they appear. */
const ALWAYS = new Set(['\\', '*', '_', '[', ']', '<', '>', '|', '~', '#', '!', '$', '%', '&', '^']);

/** ASCII characters the loop must look at: the escaped ones, `@ : \``, and URL starts (h, f). */
const SPECIAL = new Uint8Array(128);
for (const char of [...ALWAYS, '@', ':', '`', 'h', 'H', 'f', 'F']) SPECIAL[char.charCodeAt(0)] = 1;
const isSpecial = (code: number): boolean => code < 128 && SPECIAL[code] === 1;

const isAsciiWord = (code: number): boolean =>
  (code >= 48 && code <= 57) || (code >= 65 && code <= 90) || (code >= 97 && code <= 122) || code === 95;

const isAsciiLetterOrUnderscore = (code: number): boolean =>
  (code >= 65 && code <= 90) || (code >= 97 && code <= 122) || code === 95;

/** Characters that end a URL (RFC 3986 excludes them, and CommonMark autolinks cannot hold them). */
// biome-ignore lint/suspicious/noControlCharactersInRegex: control characters end a URL.
const URL_STOP = /[\s<>"`|\\^{}\u0000-\u001F\u007F]/;
const URL_SCHEME = /^(?:https?|ftp):\/\//i;
const TRAILING_PUNCTUATION = new Set(['.', ',', ':', ';', '!', '?', "'", '"', '*', '_', '~']);
const UPLOAD_SCHEME_PREFIX = 'postdesk-upload';

/** Length of the URL that starts at `start`, or 0. Linear in the URL's length. */
const urlLengthAt = (text: string, start: number, bracketed = false): number => {
  const head = text.slice(start, start + 8);
  const scheme = URL_SCHEME.exec(head);
  if (scheme === null) return 0;
  let end = start + scheme[0].length;
  while (end < text.length && !URL_STOP.test(text.charAt(end))) end++;
  if (bracketed) return end - start > scheme[0].length ? end - start : 0;
  const url = text.slice(start, end);
  // Trailing punctuation belongs to the sentence; a `)` only to the URL when it opened one.
  // (A loop, not a `[...]+$` regex: that backtracks quadratically on a long run of dots.)
  let length = url.length;
  const open = count(url, '(');
  let close = count(url, ')');
  while (length > 0) {
    const last = url.charAt(length - 1);
    if (TRAILING_PUNCTUATION.has(last)) {
      length--;
    } else if (last === ')' && open < close) {
      length--;
      close--;
    } else {
      break;
    }
  }
  return length > scheme[0].length ? length : 0;
};

const count = (text: string, char: string): number => {
  let total = 0;
  for (let index = text.indexOf(char); index !== -1; index = text.indexOf(char, index + 1)) total++;
  return total;
};

/**
 * Backtick runs of a string, by length: for each length, the start offsets in order. One pass, so
 * pairing code spans stays linear however many unmatched runs there are.
 */
const backtickRuns = (text: string): Map<number, number[]> => {
  const runs = new Map<number, number[]>();
  let index = 0;
  while (index < text.length) {
    if (text.charCodeAt(index) !== 96) {
      index++;
      continue;
    }
    let end = index;
    while (end < text.length && text.charCodeAt(end) === 96) end++;
    const length = end - index;
    const list = runs.get(length);
    if (list) list.push(index);
    else runs.set(length, [index]);
    index = end;
  }
  return runs;
};

/**
 * Inside code (a code span, a fenced block, an autolink) no escape works, so our own link scheme is
 * broken with a word joiner instead: deliver's `postdesk-upload://<n>` pattern no longer matches and
 * the text looks the same.
 */
export const defuseUploadScheme = (text: string): string =>
  text.replace(/(postdesk-upload:)(\/\/)/gi, '$1\u2060$2');

/** Escapes one piece of customer text (no line breaks expected, but they are kept). */
export const escapeInline = (text: string, options: EscapeOptions = {}): string => {
  const { nodeStart = false, codeSpans = false, urls = true, colonAtStart = false } = options;
  let out = '';
  let index = 0;
  if (nodeStart) {
    // The same line-start escapes turndown applies to a text node (its `markdownEscapes`).
    const ordered = /^(\d+)([.)])(?=\s|$)/.exec(text);
    if (ordered) {
      out = `${ordered[1]}${ESC}${ordered[2]}`;
      index = ordered[0].length;
    } else if (text.startsWith('-') || text.startsWith('+') || text.startsWith('=')) {
      out = `${ESC}${text.charAt(0)}`;
      index = 1;
    }
  }
  const runs = codeSpans ? backtickRuns(text) : undefined;
  const runCursor = new Map<number, number>();
  while (index < text.length) {
    // Copy a run of ordinary characters in one slice (most of any text).
    let plainEnd = index;
    while (plainEnd < text.length && !isSpecial(text.charCodeAt(plainEnd))) plainEnd++;
    if (plainEnd > index) {
      out += text.slice(index, plainEnd);
      index = plainEnd;
      if (index >= text.length) break;
    }
    const char = text.charAt(index);
    const code = text.charCodeAt(index);
    if (urls && (code === 104 || code === 72 || code === 102 || code === 70)) {
      const length = urlLengthAt(text, index);
      if (length > 0) {
        out += `<${defuseUploadScheme(text.slice(index, index + length))}>`;
        index += length;
        continue;
      }
    }
    if (urls && code === 60) {
      // `<https://…>` as plain-text mail writes a link: already an autolink, keep it as one.
      const length = urlLengthAt(text, index + 1, true);
      if (length > 0 && text.charCodeAt(index + 1 + length) === 62) {
        out += `<${defuseUploadScheme(text.slice(index + 1, index + 1 + length))}>`;
        index += length + 2;
        continue;
      }
    }
    if (code === 96) {
      let end = index;
      while (end < text.length && text.charCodeAt(end) === 96) end++;
      const length = end - index;
      const closing = runs ? nextRun(runs, runCursor, length, end) : undefined;
      if (closing !== undefined) {
        out += defuseUploadScheme(text.slice(index, closing + length));
        index = closing + length;
      } else {
        out += `${ESC}\``.repeat(length);
        index = end;
      }
      continue;
    }
    if (ALWAYS.has(char)) {
      out += ESC + char;
    } else if (char === '@') {
      out += index > 0 && isAsciiWord(text.charCodeAt(index - 1)) ? '@' : ESC + char;
    } else if (char === ':') {
      out += colonNeedsEscape(text, index, colonAtStart) ? ESC + char : char;
    } else {
      out += char;
    }
    index++;
  }
  return out;
};

/** The first backtick run of exactly `length` that starts at or after `from`. */
const nextRun = (
  runs: Map<number, number[]>,
  cursor: Map<number, number>,
  length: number,
  from: number,
): number | undefined => {
  const list = runs.get(length);
  if (!list) return undefined;
  let position = cursor.get(length) ?? 0;
  while (position < list.length && (list[position] ?? 0) < from) position++;
  cursor.set(length, position);
  return list[position];
};

const colonNeedsEscape = (text: string, index: number, colonAtStart: boolean): boolean => {
  if (index === 0) return colonAtStart;
  if (
    text.slice(Math.max(0, index - UPLOAD_SCHEME_PREFIX.length), index).toLowerCase() === UPLOAD_SCHEME_PREFIX
  ) {
    return true;
  }
  // `[vulnerability:1]`, `[issue:1]`, `*iteration:"x"`: a word right after `[` or `*`.
  let start = index;
  while (start > 0 && isAsciiLetterOrUnderscore(text.charCodeAt(start - 1))) start--;
  if (start === index || start === 0) return false;
  const before = text.charAt(start - 1);
  return before === '[' || before === '*';
};

/** A code span holding `content` literally (GitLab's `redact_commands` shape: `` `/cmd arg` ``). */
export const codeSpan = (content: string): string => {
  let longest = 0;
  let current = 0;
  for (let index = 0; index < content.length; index++) {
    if (content.charCodeAt(index) === 96) {
      current++;
      if (current > longest) longest = current;
    } else {
      current = 0;
    }
  }
  const fence = '`'.repeat(longest + 1);
  const pad =
    content.startsWith('`') ||
    content.endsWith('`') ||
    (content.startsWith(' ') && content.endsWith(' ') && content.trim() !== '')
      ? ' '
      : '';
  return `${fence}${pad}${defuseUploadScheme(content)}${pad}${fence}`;
};

/** Removes our escape markers: the customer's text as it was. */
export const unmark = (text: string): string => text.split(ESC).join('');
