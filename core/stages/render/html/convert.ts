import type TurndownService from 'turndown';
import type { UploadList } from '../attachments.ts';
import { HtmlRejected, MAX_HTML_CHARS, MAX_HTML_DEPTH } from '../constants.ts';
import { escapeInline } from '../markdown/escape.ts';
import { estimateDepth, shortenWhitespaceRuns } from './prepare.ts';
import { addEmailRules } from './rules.ts';

/**
 * HTML to marked Markdown with turndown (chosen by measurement, docs/RENDER.md), loaded on first
 * use with a dynamic `import()`: a Lambda that never meets an HTML-only mail never pays for the
 * converter and its DOM at cold start.
 */

interface Converter {
  Turndown: typeof TurndownService;
  plugins: TurndownService.Plugin[];
}

let loading: Promise<Converter> | undefined;

const loadConverter = (): Promise<Converter> => {
  loading ??= Promise.all([import('turndown'), import('@joplin/turndown-plugin-gfm')]).then(
    ([turndown, gfm]) => ({
      Turndown: turndown.default,
      // Task lists only: the plugin's table rule keeps "complex" tables as raw HTML (customer
      // markup in the description), its code rule uses a fence code can close, and its
      // strikethrough wraps blocks too. Tables, code and strikethrough are ours (rules.ts).
      plugins: [gfm.taskListItems],
    }),
    (error: unknown) => {
      loading = undefined;
      throw error;
    },
  );
  return loading;
};

export type HtmlConversion =
  | { ok: true; markdown: string }
  | { ok: false; reason: HtmlRejected; detail: Record<string, unknown> };

export interface ConvertOptions {
  /** `reply` marks where the quoted part starts with `Marker.quoteSplit`. */
  mode: 'issue' | 'reply';
  /** Resolves `cid:` images and records which ones were shown in place. */
  uploads: UploadList;
}

/** A list marker with nothing after it: turndown's output for an empty `<li>`. */
const EMPTY_LIST_ITEM = /^[ \t]*(?:[-+*]|\d{1,9}[.)])[ \t]*$/;

/**
 * White space only (NBSP included) counts as blank; runs of blank lines fold to one. Empty list
 * items go: under a line of text, a bare `-` would turn that text into a heading (setext).
 */
const tidy = (markdown: string): string => {
  const out: string[] = [];
  for (const line of markdown.split('\n')) {
    if (EMPTY_LIST_ITEM.test(line)) continue;
    const blank = line.trim() === '';
    if (blank && (out.length === 0 || out[out.length - 1] === '')) continue;
    out.push(blank ? '' : line);
  }
  while (out.length > 0 && out[out.length - 1] === '') out.pop();
  return out.join('\n');
};

/**
 * Converts an HTML body. Refuses (with a reason, never a throw) HTML over `MAX_HTML_CHARS`, or
 * nested deeper than `MAX_HTML_DEPTH`, before any parsing: turndown recurses per element and its
 * cost grows with size × depth. A converter error (a stack overflow on input the estimate missed)
 * is a refusal too; the caller falls back to text.
 */
export const convertHtml = async (html: string, options: ConvertOptions): Promise<HtmlConversion> => {
  if (html.length > MAX_HTML_CHARS) {
    return {
      ok: false,
      reason: HtmlRejected.tooLarge,
      detail: { htmlChars: html.length, maxHtmlChars: MAX_HTML_CHARS },
    };
  }
  const depth = estimateDepth(html);
  if (depth > MAX_HTML_DEPTH) {
    return { ok: false, reason: HtmlRejected.tooDeep, detail: { depth, maxDepth: MAX_HTML_DEPTH } };
  }
  try {
    const { Turndown, plugins } = await loadConverter();
    const service = new Turndown({
      headingStyle: 'atx',
      hr: '---',
      bulletListMarker: '-',
      codeBlockStyle: 'fenced',
      emDelimiter: '_',
      strongDelimiter: '**',
      linkStyle: 'inlined',
    });
    service.use(plugins);
    addEmailRules(service, options);
    service.escape = (text: string): string => escapeInline(text, { nodeStart: true, colonAtStart: true });
    return { ok: true, markdown: tidy(service.turndown(shortenWhitespaceRuns(html))) };
  } catch (error) {
    return {
      ok: false,
      reason: HtmlRejected.converterFailed,
      detail: { error: error instanceof Error ? `${error.name}: ${error.message}` : String(error) },
    };
  }
};
