import { Marker } from './constants.ts';
import { escapeInline } from './markdown/escape.ts';
import { fencedBlock } from './markdown/fence.ts';

/**
 * text/plain to marked Markdown that shows what the customer wrote and nothing more.
 *
 * Block structure is decided here, not left to the forge's parser, so that no customer line can
 * open a construct we did not see: a fenced block the customer wrote (any indentation, even an
 * unclosed one) and a run of indented lines after a blank line are re-emitted as our own fences
 * at column 0 (always code, whatever list or quote they followed); every other line is text:
 * its quote markers (`>`) and list marker are kept, so replies and lists read as they do in a
 * mail client, and the rest goes through `escapeInline`. Consecutive text lines end with a hard
 * break: GitLab renders with `hardbreaks: false`, and a plain-text mail's line breaks are part of
 * what the customer wrote (addresses, signatures, logs).
 */
export const renderPlainText = (text: string): string => {
  const lines = text.split('\n');
  const out: string[] = [];
  let paragraph: string[] = [];
  let previousBlank = true;
  const flush = (): void => {
    for (const [index, line] of paragraph.entries()) {
      out.push(index < paragraph.length - 1 ? `${line}  ` : line);
    }
    paragraph = [];
  };
  let index = 0;
  while (index < lines.length) {
    const line = lines[index] ?? '';
    const fence = FENCE_OPEN.exec(line);
    if (fence) {
      flush();
      const indent = fence[1]?.length ?? 0;
      const marker = fence[2] ?? '```';
      const closing = new RegExp(`^ {0,3}${marker.charAt(0) === '`' ? '`' : '~'}{${marker.length},}[ \\t]*$`);
      const code: string[] = [];
      index++;
      while (index < lines.length && !closing.test(lines[index] ?? '')) {
        code.push(stripIndent(lines[index] ?? '', indent));
        index++;
      }
      index++;
      pushBlock(out, fencedBlock(code.join('\n'), (fence[3] ?? '').trim().split(/\s/)[0] ?? ''));
      previousBlank = false;
      continue;
    }
    if (previousBlank && INDENTED.test(line) && line.trim() !== '') {
      flush();
      const code: string[] = [];
      let end = index;
      while (end < lines.length && (INDENTED.test(lines[end] ?? '') || (lines[end] ?? '').trim() === ''))
        end++;
      while (end > index && (lines[end - 1] ?? '').trim() === '') end--;
      for (let at = index; at < end; at++) code.push(stripCodeIndent(lines[at] ?? ''));
      pushBlock(out, fencedBlock(code.join('\n')));
      index = end;
      previousBlank = false;
      continue;
    }
    if (line.trim() === '') {
      // Runs of blank lines read as one in Markdown; keep one, and none at the start.
      flush();
      if (out.length > 0 && out[out.length - 1] !== '') out.push('');
      previousBlank = true;
      index++;
      continue;
    }
    paragraph.push(escapeTextLine(line, paragraph.length > 0));
    previousBlank = false;
    index++;
  }
  flush();
  while (out.length > 0 && out[out.length - 1] === '') out.pop();
  return out.join('\n');
};

/** A block on its own, with one blank line before and after it. */
const pushBlock = (out: string[], block: string): void => {
  if (out.length > 0 && out[out.length - 1] !== '') out.push('');
  out.push(block, '');
};

/** CommonMark's fence opener: up to 3 spaces, 3+ backticks (info without backticks) or tildes. */
const FENCE_OPEN = /^( {0,3})(`{3,}(?=[^`]*$)|~{3,})(.*)$/;
const INDENTED = /^(?: {4}|\t)/;
const LINE_PREFIX = /^([ \t]*)((?:>[ \t]?)*)/;
const LIST_MARKER = /^(?:[-+*]|\d{1,9}[.)])(?=[ \t]|$)/;
/** A setext underline, or a one-column GFM delimiter row (`-:`, `:-:`), under a line of text. */
const SETEXT_UNDERLINE = /^(?:=+|:?-+:?)[ \t]*$/;

const stripIndent = (line: string, indent: number): string => {
  let cut = 0;
  while (cut < indent && line.charAt(cut) === ' ') cut++;
  return line.slice(cut);
};

const stripCodeIndent = (line: string): string =>
  line.startsWith('\t') ? line.slice(1) : line.startsWith('    ') ? line.slice(4) : line.trimStart();

/**
 * One text line: leading white space and quote markers as written, a list marker as written, then
 * escaped text. A line of `=` or `-` under text would turn that text into a heading (setext), and
 * `-:` into a table header, so its first character is escaped.
 */
const escapeTextLine = (line: string, followsText: boolean): string => {
  const prefix = LINE_PREFIX.exec(line)?.[0] ?? '';
  let rest = line.slice(prefix.length);
  let head = prefix;
  // A setext underline wins over a list marker: `-` alone under text is a heading, not a list.
  const list = followsText && SETEXT_UNDERLINE.test(rest) ? null : LIST_MARKER.exec(rest);
  if (list) {
    head += list[0];
    rest = rest.slice(list[0].length);
  } else if (followsText && SETEXT_UNDERLINE.test(rest)) {
    head += Marker.escape + rest.charAt(0);
    rest = rest.slice(1);
  }
  return head + escapeInline(rest, { codeSpans: true, colonAtStart: list === null && head === prefix });
};
