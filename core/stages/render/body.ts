import type { ParsedMail } from '../../model.ts';
import type { UploadList } from './attachments.ts';
import { chooseBody } from './body-choice.ts';
import { HtmlRejected, Marker } from './constants.ts';
import { convertHtml } from './html/convert.ts';
import { stripHtml } from './html/strip.ts';
import { renderPlainText } from './plain-text.ts';
import { trimReply } from './reply-trim.ts';
import { cleanText } from './text-clean.ts';

/**
 * Which part of the mail became the body: the reason code of a passing render.
 *
 * - `text_body`: text/plain, the default (GitLab's ReplyParser prefers it too);
 * - `html_body`: text/html converted to Markdown, for want of a usable text/plain;
 * - `html_fallback_text`: the HTML was chosen but could not be converted (too large, too deep,
 *   converter error): text/plain instead;
 * - `html_fallback_stripped`: the HTML could not be converted and there is no text/plain: its tags
 *   were stripped;
 * - `empty_body`: neither part has any text (attachments only, or an empty mail).
 */
export type BodySource =
  | 'text_body'
  | 'html_body'
  | 'html_fallback_text'
  | 'html_fallback_stripped'
  | 'empty_body';

/** The rendered body, as marked Markdown (see `markdown/finalize.ts`). */
export interface RenderedBody {
  /** The body (issue), or the reply's new text (reply). */
  main: string;
  /** Reply only: what trimming took out (quotes, quote header, signature); `''` when nothing. */
  quoted: string;
  source: BodySource;
  detail: Record<string, unknown>;
}

/** Every internal marker, for reading a marked line as plain text. */
const MARKERS = /[\uFDD0-\uFDEF]/g;
const plainView = (line: string): string => line.replace(MARKERS, '');
const isCodeLine = (line: string): boolean => line.includes(Marker.verbatim);

const hasText = (marked: string): boolean => plainView(marked).trim() !== '';

/** Blank lines at both ends removed, runs of blank lines folded to one (code lines untouched). */
const trimBlankLines = (lines: readonly string[]): string[] => {
  const out: string[] = [];
  for (const line of lines) {
    const blank = !isCodeLine(line) && plainView(line).trim() === '';
    if (blank && (out.length === 0 || out[out.length - 1] === '')) continue;
    out.push(blank ? '' : line);
  }
  while (out.length > 0 && out[out.length - 1] === '') out.pop();
  return out;
};

const fromText = (text: string, mode: 'issue' | 'reply', detail: Record<string, unknown>) => {
  if (mode === 'issue') return { main: renderPlainText(text), quoted: '' };
  const trimmed = trimReply(text.split('\n'));
  if (trimmed.visible.every((line) => line.trim() === '')) {
    // Only quotes (or a signature): show it all rather than nothing (GitLab's allow_only_quotes).
    if (trimmed.quoted.length > 0) detail['trim'] = 'nothing_left_untrimmed';
    return { main: renderPlainText(text), quoted: '' };
  }
  detail['trimmedLines'] = trimmed.quoted.length;
  return {
    main: renderPlainText(trimmed.visible.join('\n')),
    quoted: renderPlainText(trimmed.quoted.join('\n')),
  };
};

/** Splits a converted HTML reply at the first quote element, then trims the text above it. */
const fromHtmlReply = (markdown: string, detail: Record<string, unknown>) => {
  const lines = markdown.split('\n');
  const split = lines.findIndex((line) => line.includes(Marker.quoteSplit));
  const before = split === -1 ? lines : lines.slice(0, split);
  const after = split === -1 ? [] : lines.slice(split + 1);
  const trimmed = trimReply(before, plainView, isCodeLine);
  const visible = trimBlankLines(trimmed.visible);
  const quoted = trimBlankLines([...trimmed.quoted, '', ...trimBlankLines(after)]);
  if (!hasText(visible.join('\n'))) {
    if (quoted.length > 0) detail['trim'] = 'nothing_left_untrimmed';
    return { main: trimBlankLines([...before, '', ...after]).join('\n'), quoted: '' };
  }
  detail['trimmedLines'] = quoted.length;
  if (split !== -1) detail['quoteElement'] = true;
  return { main: visible.join('\n'), quoted: quoted.join('\n') };
};

/**
 * Renders the body of a mail: chooses the part (body-choice.ts), converts HTML when that is the
 * part, falls back to text when the HTML cannot be converted, and for replies separates the new
 * text from what it quotes. Never throws for any input; the reason lands in `detail`.
 */
export const renderBody = async (
  mail: ParsedMail,
  uploads: UploadList,
  mode: 'issue' | 'reply',
): Promise<RenderedBody> => {
  const text = mail.text === undefined ? undefined : cleanText(mail.text);
  const html = mail.html === undefined ? undefined : cleanText(mail.html);
  const choice = chooseBody(text, html, uploads);
  const detail: Record<string, unknown> = {};
  if (choice.kind === 'none') return { main: '', quoted: '', source: 'empty_body', detail };
  if (choice.kind === 'text') return { ...fromText(choice.text, mode, detail), source: 'text_body', detail };

  if (choice.textRejected !== undefined) detail['textRejected'] = choice.textRejected;
  const converted = await convertHtml(choice.html, { mode, uploads });
  if (converted.ok && hasText(converted.markdown)) {
    const body =
      mode === 'issue' ? { main: converted.markdown, quoted: '' } : fromHtmlReply(converted.markdown, detail);
    return { ...body, source: 'html_body', detail };
  }
  // The HTML could not be used: the text part after all, or the HTML's text without its tags.
  uploads.resetInline();
  if (converted.ok) detail['htmlRejected'] = HtmlRejected.empty;
  else Object.assign(detail, { htmlRejected: converted.reason, ...converted.detail });
  if (choice.text !== undefined && choice.text.trim() !== '') {
    return { ...fromText(choice.text, mode, detail), source: 'html_fallback_text', detail };
  }
  const stripped = stripHtml(choice.html);
  if (stripped === '') return { main: '', quoted: '', source: 'empty_body', detail };
  return { ...fromText(stripped, mode, detail), source: 'html_fallback_stripped', detail };
};
