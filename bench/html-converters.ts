/**
 * Compares HTML-to-Markdown converters on the mail HTML of the fixture corpus: turndown 7.2 with
 * @joplin/turndown-plugin-gfm 1.0 (defaults plus ATX headings and fenced code), node-html-markdown
 * 2.0 (defaults, one reused instance), and Postdesk's render converter (turndown with the mail
 * rules of core/stages/render/html, output finalised as it reaches the forge). Prints one JSON
 * object per line: `{"kind":"doc",...}` per converter and document, then `{"kind":"summary",...}`
 * per converter, then `{"kind":"hostile",...}` for the two oversized corpus mails.
 *
 *   node --import tsx bench/html-converters.ts [--runs=7]
 *
 * Quality, per document (docs/RENDER.md explains the choice these figures support):
 * - `junk`: Office/CSS debris left in the text (`mso-`, `@font-face`, `panose`, `MsoNormal`,
 *   `<o:p>`, `behavior:url`, `{font-family`, comments, style/script/xml tags);
 * - `rawHtml`: HTML tags that reached the Markdown (GitLab would render or sanitise them);
 * - `tables`: GFM delimiter rows, against the number of data tables the document holds;
 * - `leaks`: hidden preheader text or tracking-pixel URLs that made it into the output;
 * - `missing`: phrases a reader sees in the mail that the output lost.
 * Speed: median milliseconds of `--runs` conversions per document.
 */
import { createReadStream, readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { gfm } from '@joplin/turndown-plugin-gfm';
import { NodeHtmlMarkdown } from 'node-html-markdown';
import TurndownService from 'turndown';
import { LimitsSchema } from '../core/config/schema.ts';
import type { ParsedMail } from '../core/model.ts';
import { parseMail } from '../core/stages/parse/index.ts';
import { UploadList } from '../core/stages/render/attachments.ts';
import { convertHtml } from '../core/stages/render/html/convert.ts';
import { finalize } from '../core/stages/render/markdown/finalize.ts';

const ROOT = fileURLToPath(new URL('..', import.meta.url));
const FIXTURES = join(ROOT, 'test/fixtures');
const RUNS = Number(
  /^--runs=(\d+)$/.exec(process.argv.find((arg) => arg.startsWith('--runs=')) ?? '')?.[1] ?? 7,
);

interface Doc {
  name: string;
  html: string;
  mail: ParsedMail | undefined;
  /** Phrases a reader of the mail sees. */
  phrases: string[];
  /** Text that must not appear: hidden preheaders, tracking-pixel URLs. */
  hidden: string[];
  /** Data tables in the document (expected GFM tables). */
  dataTables: number;
}

interface Converter {
  name: string;
  convert(doc: Doc): Promise<string>;
}

const emit = (record: Record<string, unknown>): void => {
  process.stdout.write(`${JSON.stringify(record)}\n`);
};

const parse = async (path: string): Promise<ParsedMail> => {
  const result = await parseMail(() => Promise.resolve(createReadStream(path)), {
    limits: LimitsSchema.parse({}),
  });
  if (!result.ok) throw new Error(`${path}: ${result.reason}`);
  return result.value;
};

const TALON_PHRASES = ['Hi. I am fine.', 'Hello! How are you?'];

const loadDocs = async (): Promise<Doc[]> => {
  const docs: Doc[] = [];
  const htmlDir = join(FIXTURES, 'corpus/replies/talon/html_replies');
  for (const file of readdirSync(htmlDir).sort()) {
    const html = readFileSync(join(htmlDir, file), 'utf8');
    docs.push({
      name: `talon/${file}`,
      html,
      mail: undefined,
      phrases: TALON_PHRASES,
      hidden: [],
      dataTables: 0,
    });
  }
  const misc = join(FIXTURES, 'corpus/replies/talon/misc');
  docs.push({
    name: 'talon/misc/OLK_SRC_BODY_SECTION.html',
    html: readFileSync(join(misc, 'OLK_SRC_BODY_SECTION.html'), 'utf8'),
    mail: undefined,
    phrases: ['Reply', 'Subject: Test', 'Hi'],
    hidden: [],
    dataTables: 0,
  });
  docs.push({
    name: 'talon/misc/reply-separated-by-hr.html',
    html: readFileSync(join(misc, 'reply-separated-by-hr.html'), 'utf8'),
    mail: undefined,
    phrases: ['Hi', 'there', 'Bob', 'Subject: Hello'],
    hidden: [],
    dataTables: 0,
  });
  const mails: [string, string[], string[], number][] = [
    [
      'corpus/replies/talon/misc/reply-quotations-share-block.eml',
      ['Sounds great', 'New Booking Inquiry'],
      [],
      0,
    ],
    ['corpus/emails/mailparser/nodemailer.eml', ['Hello to myself', 'nyan cat'], [], 0],
    ['corpus/emails/mailparser/nested.eml', ['Dear Sir'], [], 0],
    ['corpus/emails/mailparser/mixed.eml', ['scanned for Viruses and Content'], [], 0],
    ['corpus/emails/mailparser/spam.eml', ['verdient er 35 Millionen Euro pro Jahr'], [], 0],
    [
      'corpus/emails/charsets/mail-iso-8859-1-label-utf-8-body-7bit-cte.eml',
      ['Be Charitable', 'Families of Freedom'],
      [],
      0,
    ],
    ['corpus/emails/charsets/mail-windows-1251-b-from-qp-body.eml', [], [], 0],
    ['corpus/emails/charsets/mail-big5-label-utf-8-mojibake.eml', ['軟體帝國更新迅速'], [], 0],
    ['corpus/emails/charsets/stalwart-windows-1252-qp-related.eml', ['Search for höhö'], [], 0],
    [
      'mail/render/outlook-data-table.eml',
      ['Hello support team', 'Controller (black)', 'Could you correct the invoice', 'Purchasing'],
      ['Internal preview', 'tracking.contoso.example'],
      1,
    ],
    [
      'mail/render/newsletter-layout.eml',
      ['January picks', 'Star Courier', 'Unsubscribe'],
      ['Hidden preheader', 'pixel.store.example'],
      1,
    ],
  ];
  for (const [path, phrases, hidden, dataTables] of mails) {
    const mail = await parse(join(FIXTURES, path));
    if (mail.html === undefined) continue;
    docs.push({ name: path.replace(/^corpus\//, ''), html: mail.html, mail, phrases, hidden, dataTables });
  }
  return docs;
};

const emptyMail = (html: string): ParsedMail => ({
  headers: new Map(),
  from: [],
  replyTo: [],
  sender: undefined,
  to: [],
  cc: [],
  subject: undefined,
  messageId: undefined,
  inReplyTo: [],
  references: [],
  date: undefined,
  contentType: 'text/html',
  contentTypeParams: {},
  text: undefined,
  html,
  attachments: [],
  size: html.length,
  warnings: [],
});

const nhm = new NodeHtmlMarkdown();

const converters: Converter[] = [
  {
    name: 'turndown+gfm',
    convert: async (doc) => {
      const service = new TurndownService({ headingStyle: 'atx', codeBlockStyle: 'fenced' });
      service.use(gfm);
      return service.turndown(doc.html);
    },
  },
  { name: 'node-html-markdown', convert: async (doc) => nhm.translate(doc.html) },
  {
    name: 'postdesk',
    convert: async (doc) => {
      const result = await convertHtml(doc.html, {
        mode: 'issue',
        uploads: new UploadList(doc.mail ?? emptyMail(doc.html)),
      });
      if (!result.ok) throw new Error(result.reason);
      return finalize(result.markdown);
    },
  },
];

const JUNK =
  /mso-|@font-face|panose|MsoNormal|<\/?o:p>|behavior:url|\{font-family|<!--|<\/?(?:style|script|xml)\b/gi;
const RAW_HTML =
  /<\/?(?:html|head|body|table|tr|td|th|div|span|p|font|img|a|br|hr|b|i|u|blockquote|o:p)\b[^>]*>/gi;
const DELIMITER_ROW = /^\s*\|?\s*:?-{3,}:?\s*(?:\|\s*:?-{3,}:?\s*)+\|?\s*$/gm;

/** The text a reader sees in Markdown, for phrase checks: escapes, emphasis and link syntax gone. */
const readable = (markdown: string): string =>
  markdown
    .replace(/\\(.)/g, '$1')
    .replace(/[*_`]/g, '')
    .replace(/\]\([^)]*\)/g, ']')
    .replace(/[[\]]/g, '')
    .replace(/[\s\u00A0]+/g, ' ');

const median = (values: number[]): number => {
  const sorted = [...values].sort((a, b) => a - b);
  const middle = Math.floor(sorted.length / 2);
  return sorted.length % 2 === 1
    ? (sorted[middle] ?? 0)
    : ((sorted[middle - 1] ?? 0) + (sorted[middle] ?? 0)) / 2;
};

const round = (value: number): number => Math.round(value * 100) / 100;

const main = async (): Promise<void> => {
  const docs = await loadDocs();
  for (const converter of converters) {
    const times: number[] = [];
    let junkDocs = 0;
    let rawHtmlDocs = 0;
    let tablesExpected = 0;
    let tablesRight = 0;
    let leaks = 0;
    let missing = 0;
    let failures = 0;
    for (const doc of docs) {
      const runs: number[] = [];
      let output = '';
      try {
        for (let run = 0; run < RUNS; run++) {
          const started = performance.now();
          output = await converter.convert(doc);
          runs.push(performance.now() - started);
        }
      } catch (error) {
        failures++;
        emit({ kind: 'doc', converter: converter.name, doc: doc.name, error: String(error) });
        continue;
      }
      const ms = median(runs);
      times.push(ms);
      const junk = output.match(JUNK)?.length ?? 0;
      const rawHtml = output.match(RAW_HTML)?.length ?? 0;
      const tables = output.match(DELIMITER_ROW)?.length ?? 0;
      const text = readable(output);
      const lost = doc.phrases.filter((phrase) => !text.includes(phrase));
      const leaked = doc.hidden.filter((phrase) => output.includes(phrase));
      if (junk > 0) junkDocs++;
      if (rawHtml > 0) rawHtmlDocs++;
      tablesExpected += doc.dataTables;
      if (tables === doc.dataTables) tablesRight += doc.dataTables;
      leaks += leaked.length;
      missing += lost.length;
      emit({
        kind: 'doc',
        converter: converter.name,
        doc: doc.name,
        htmlChars: doc.html.length,
        ms: round(ms),
        chars: output.length,
        junk,
        rawHtml,
        tables,
        dataTables: doc.dataTables,
        leaked,
        missing: lost,
      });
    }
    const sorted = [...times].sort((a, b) => a - b);
    emit({
      kind: 'summary',
      converter: converter.name,
      docs: docs.length,
      failures,
      medianMs: round(median(times)),
      p95Ms: round(sorted[Math.min(sorted.length - 1, Math.floor(sorted.length * 0.95))] ?? 0),
      totalMs: round(times.reduce((sum, ms) => sum + ms, 0)),
      docsWithJunk: junkDocs,
      docsWithRawHtml: rawHtmlDocs,
      dataTablesKept: `${tablesRight}/${tablesExpected}`,
      hiddenLeaks: leaks,
      phrasesMissing: missing,
    });
  }
  // The two hostile corpus mails, once each and without Postdesk's caps: do they finish, and how fast?
  for (const file of ['htmllargecallstack.eml', 'outofmemory.eml']) {
    const mail = await parse(join(FIXTURES, 'corpus/emails/mailparser', file));
    const html = mail.html ?? '';
    for (const converter of converters) {
      const started = performance.now();
      let outcome: string;
      try {
        const output = await converter.convert({
          name: file,
          html,
          mail,
          phrases: [],
          hidden: [],
          dataTables: 0,
        });
        outcome = `ok (${output.length} chars)`;
      } catch (error) {
        outcome = `refused or failed: ${String(error)}`;
      }
      emit({
        kind: 'hostile',
        converter: converter.name,
        doc: file,
        htmlChars: html.length,
        ms: round(performance.now() - started),
        outcome,
      });
    }
  }
};

await main();
