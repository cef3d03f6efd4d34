import { createReadStream } from 'node:fs';
import { join } from 'node:path';
import { Readable } from 'node:stream';
import { fileURLToPath } from 'node:url';
import { marked } from 'marked';
import { type Limits, LimitsSchema, type ProjectConfig, ProjectSchema } from '../../core/config/schema.ts';
import type { AttachmentMeta, ParsedMail } from '../../core/model.ts';
import { parseMail } from '../../core/stages/parse/index.ts';
import { fromHeaders } from '../support/mail-factory.ts';

/** Factories for the render tests: a `ParsedMail` with sensible defaults, and its parts. */

export const FIXTURES = fileURLToPath(new URL('../fixtures/', import.meta.url));
export const CORPUS = join(FIXTURES, 'corpus');
export const RENDER_FIXTURES = join(FIXTURES, 'mail/render');

export const limits = (overrides: Partial<Limits> = {}): Limits => LimitsSchema.parse(overrides);

export const project = (overrides: Partial<Record<string, unknown>> = {}): ProjectConfig =>
  ProjectSchema.parse({ path: 'acme/game', key: 'game', ...overrides });

export const mail = (overrides: Partial<ParsedMail> = {}): ParsedMail => ({
  headers: fromHeaders(overrides.from ?? [{ name: 'Jane Doe', address: 'jane@example.com' }]),
  from: [{ name: 'Jane Doe', address: 'jane@example.com' }],
  replyTo: [],
  sender: undefined,
  to: [{ name: '', address: 'support+game@desk.example.com' }],
  cc: [],
  subject: 'The game crashes on start',
  messageId: 'abc@example.com',
  inReplyTo: [],
  references: [],
  date: new Date('2025-01-14T09:00:00Z'),
  contentType: 'text/plain',
  contentTypeParams: {},
  text: 'It crashes.',
  html: undefined,
  attachments: [],
  size: 1000,
  warnings: [],
  ...overrides,
});

/** An attachment whose content render must never read: `open()` fails the test if called. */
export const attachment = (overrides: Partial<AttachmentMeta> = {}): AttachmentMeta => ({
  index: 0,
  filename: 'report.pdf',
  contentType: 'application/pdf',
  contentId: undefined,
  disposition: 'attachment',
  size: 1234,
  related: false,
  open: () => {
    throw new Error('render must not read attachment content');
  },
  ...overrides,
});

/** The raw mail as an attachment, as the pipeline would build it from the raw store. */
export const original = (size = 2_000_000): AttachmentMeta =>
  attachment({
    index: -1,
    filename: 'original.eml',
    contentType: 'message/rfc822',
    size,
    open: () => Promise.resolve(Readable.from(['raw'])),
  });

/** Parses a fixture file with the real parse stage. */
export const parseFixture = async (path: string): Promise<ParsedMail> => {
  const result = await parseMail(() => Promise.resolve(createReadStream(path)), {
    limits: LimitsSchema.parse({}),
  });
  if (!result.ok) throw new Error(`${path} did not parse: ${result.reason} ${result.message}`);
  return result.value;
};

/** A fence line (CommonMark: a backtick fence's info string has no backtick). */
const FENCE = /^ {0,3}(`{3,}(?=[^`]*$)|~{3,})/;

/** A line without its quote and list markers and indentation, to find fences inside containers. */
const withoutQuotes = (line: string): string =>
  line.replace(/^(?:\s*(?:>|[-+*](?=\s)|\d{1,9}[.)](?=\s)))+/, '').trimStart();

/** Lines that GitLab's quick-action extractor would look at: outside fenced code, `/` at column 0-3. */
export const quickActionLines = (markdown: string): string[] => {
  const found: string[] = [];
  let fence: string | undefined;
  for (const line of markdown.split('\n')) {
    const marker = FENCE.exec(withoutQuotes(line))?.[1];
    if (fence === undefined && marker !== undefined) {
      fence = marker;
      continue;
    }
    if (fence !== undefined) {
      if (marker !== undefined && marker.charAt(0) === fence.charAt(0) && marker.length >= fence.length) {
        fence = undefined;
      }
      continue;
    }
    if (/^ {0,3}\/[A-Za-z]/.test(line)) found.push(line);
  }
  return found;
};

/**
 * `@` that GitLab would read as a mention: after a non-word character, not escaped, outside code
 * spans, fenced code and autolinks (a rough source-level check of what the reference filter sees).
 */
export const liveMentions = (markdown: string): string[] => {
  const found: string[] = [];
  let inFence = false;
  for (const line of markdown.split('\n')) {
    if (FENCE.test(withoutQuotes(line))) {
      inFence = !inFence;
      continue;
    }
    if (inFence) continue;
    const outside = line
      // GitLab keeps an escaped reference character apart (escaped_char_spans); other escapes merge.
      .replace(/\\([\s\S])/g, (_pair, char: string) =>
        '$%#&@!~^:'.includes(char) ? ' ' : char === '`' ? "'" : char,
      )
      .replace(/(`+)[\s\S]*?\1/g, '')
      .replace(/<[a-z]+:[^<>\s]*>/gi, '');
    for (const match of outside.matchAll(/(^|[^A-Za-z0-9_])@([A-Za-z0-9_][\w.-]*)/g)) found.push(match[0]);
  }
  return found;
};

/** A URL or link text reduced to its letters and digits (escapes and encodings aside). */
const comparable = (text: string): string =>
  text
    .replace(/^mailto:/, '')
    .replace(/%[0-9A-F]{2}/gi, '')
    .replace(/[^A-Za-z0-9]/g, '');

const safeDecode = (url: string): string => {
  try {
    return decodeURI(url);
  } catch {
    return url;
  }
};

/** What GitLab-flavoured Markdown would make of it (marked with GFM: close enough for tags). */
export const toHtml = (markdown: string): string => marked.parse(markdown, { gfm: true, async: false });

/**
 * Markup the customer could have injected: any image, details, script, heading or table, and
 * any link whose text is not its own address (a URL shown as a link to itself is fine) unless
 * the mail's HTML had that link (`allowedHrefs`).
 */
export const injected = (html: string, allowedHrefs: readonly string[] = []): string[] => {
  const tags = html.match(/<(?:img|details|summary|script|iframe|h[1-6]|table)\b[^>]*>/g) ?? [];
  const deceptive: string[] = [];
  for (const link of html.matchAll(/<a\b([^>]*)>([\s\S]*?)<\/a>/g)) {
    const href = /^ href="([^"]*)"$/.exec(link[1] ?? '')?.[1];
    const text = (link[2] ?? '').replace(/<[^>]*>/g, '').replace(/&amp;/g, '&');
    const shown = href === undefined ? undefined : safeDecode(href.replace(/&amp;/g, '&'));
    const same =
      shown !== undefined && (comparable(shown) === comparable(text) || allowedHrefs.includes(shown));
    if (!same) {
      deceptive.push(link[0]);
    }
  }
  return [...tags, ...deceptive];
};
