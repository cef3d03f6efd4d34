import { UPLOAD_LINK_SCHEME } from '../../contracts.ts';
import { Marker } from '../constants.ts';
import { codeSpan, defuseUploadScheme, escapeInline } from './escape.ts';

/** One output line, with what it takes to close a code fence if the text is cut right after it. */
export interface FinalLine {
  text: string;
  /** Set while this line is inside a fenced code block: the line that closes it. */
  closeFence: string | undefined;
  /** A code line (fence or content): never cut in the middle. */
  verbatim: boolean;
}

const ESC = Marker.escape;
const V = Marker.verbatim;
const UPLOAD = new RegExp(`${Marker.uploadOpen}(\\d+)${Marker.uploadClose}`, 'g');
const ANY_MARKER = /[\uFDD0-\uFDEF]/g;
/** Every marker but the upload placeholders, which `resolveUploads` turns into links. */
const NON_UPLOAD_MARKER = /[\uFDD0\uFDD1\uFDD4-\uFDEF]/g;

/**
 * GitLab's quick-action extractor runs `^\/(?<cmd>...)` on the raw source lines of top-level
 * paragraphs (`lib/gitlab/quick_actions/extractor.rb`). We redact any line whose first
 * non-space character (after at most three spaces, which CommonMark still reads as the same
 * paragraph) is `/` followed by a letter: we cannot know the instance's command list, and a
 * customer's `/usr/bin` in code style is harmless.
 */
const QUICK_ACTION = /^ {0,3}\/[A-Za-z]/;

/** What may stand before a code line: quote markers, list markers and indentation only. */
const CONTAINER_PREFIX = /^(?:[ \t]{0,8}(?:>|(?:[-+*]|\d{1,9}[.)])(?=[ \t])))*[ \t]*$/;
/** One of our fence lines: the fence and an optional language, nothing else. */
const FENCE_LINE = /^(`{3,})([A-Za-z0-9_+.#-]{0,32})$/;

/** Resolves our upload placeholders to `postdesk-upload://<n>` (after customer text was defused). */
const resolveUploads = (text: string): string =>
  text.replace(UPLOAD, (_whole, digits: string) => `${UPLOAD_LINK_SCHEME}${digits}`);

/**
 * Turns marked Markdown into what the forge receives, line by line:
 *
 * - code lines (`Marker.verbatim`) lose their marker and are otherwise untouched;
 * - a line that starts like a quick action is wrapped in a code span holding the customer's
 *   original text, as GitLab's `redact_commands` does (`/label ~x` -> `` `/label ~x` ``), so it
 *   runs nothing;
 * - every other line gets its escape markers as backslashes;
 * - any `postdesk-upload://` still present is customer text (ours are placeholders until now) and
 *   is defused; then our placeholders become real upload links.
 */
export const finalizeLines = (marked: string): FinalLine[] => {
  const out: FinalLine[] = [];
  let openFence: string | undefined;
  for (const raw of marked.split('\n')) {
    const at = raw.indexOf(V);
    // A code line counts as code only where Markdown will read it as code: its marker right after
    // container prefixes (quote markers, list markers, indentation), a fence line being a bare
    // fence, a content line inside a fence we opened. Anything else is checked like text.
    if (at !== -1 && CONTAINER_PREFIX.test(raw.slice(0, at))) {
      const prefix = raw.slice(0, at);
      const text = resolveUploads(defuseUploadScheme(raw.replace(ANY_MARKER, '')));
      const fence = raw.charAt(at + 1) === V ? FENCE_LINE.exec(raw.slice(at + 2)) : null;
      if (fence !== null && openFence === undefined) {
        openFence = prefix + (fence[1] ?? '```');
        out.push({ text, closeFence: openFence, verbatim: true });
        continue;
      }
      if (fence !== null && openFence !== undefined && fence[2] === '') {
        openFence = undefined;
        out.push({ text, closeFence: undefined, verbatim: true });
        continue;
      }
      if (fence === null && openFence !== undefined && raw.charAt(at + 1) !== V) {
        out.push({ text, closeFence: openFence, verbatim: true });
        continue;
      }
    }
    // A code line Markdown will not read as code is customer text like any other: escape it.
    const line = at === -1 ? raw : raw.slice(0, at) + escapeInline(raw.slice(at).replace(ANY_MARKER, ''));
    const plain = line.replace(NON_UPLOAD_MARKER, '');
    let text: string;
    if (QUICK_ACTION.test(plain)) {
      const hardBreak = plain.endsWith('  ');
      const content = plain.trimEnd();
      const indent = /^ */.exec(content)?.[0] ?? '';
      text = `${indent}${codeSpan(content.slice(indent.length))}${hardBreak ? '  ' : ''}`;
    } else {
      text = line.split(ESC).join('\\');
    }
    out.push({
      text: resolveUploads(defuseUploadScheme(text).replace(NON_UPLOAD_MARKER, '')),
      closeFence: openFence,
      verbatim: false,
    });
  }
  return out;
};

/** `finalizeLines` joined: for pieces that are never cut (headers, link lists). */
export const finalize = (marked: string): string =>
  finalizeLines(marked)
    .map((line) => line.text)
    .join('\n');

/**
 * Keeps as many whole lines as fit in `budget` characters (newlines included), cutting the first
 * line that does not fit at a code-point boundary, and closing a code fence left open, so what
 * follows the cut (a truncation notice, the template) is never swallowed by a code block.
 */
export const fitLines = (lines: readonly FinalLine[], budget: number): { text: string; cut: boolean } => {
  const kept: string[] = [];
  let used = 0;
  for (const [index, line] of lines.entries()) {
    const separator = index === 0 ? 0 : 1;
    const closing = line.closeFence === undefined ? 0 : line.closeFence.length + 1;
    if (used + separator + line.text.length + closing <= budget) {
      kept.push(line.text);
      used += separator + line.text.length;
      continue;
    }
    // Code lines are never cut: a half fence would open a new block. Text lines are.
    const room = budget - used - separator;
    if (!line.verbatim && room > 0) kept.push(cutAtCodePoint(line.text, room));
    const fence = lines[index - 1]?.closeFence;
    if (fence !== undefined) kept.push(fence);
    return { text: kept.join('\n'), cut: true };
  }
  return { text: kept.join('\n'), cut: false };
};

/** The longest prefix of `text` that is at most `max` UTF-16 units and ends on a code point. */
export const cutAtCodePoint = (text: string, max: number): string => {
  if (text.length <= max) return text;
  if (max <= 0) return '';
  const code = text.charCodeAt(max - 1);
  return code >= 0xd800 && code <= 0xdbff ? text.slice(0, max - 1) : text.slice(0, max);
};
