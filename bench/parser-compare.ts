/**
 * Compares MIME parsers on the fixture corpus: mailparser 3.9 (the streaming `MailParser` class,
 * plus `simpleParser` for memory), postal-mime 4.0, and Postdesk's own parse stage
 * (core/stages/parse, built on mailparser's splitter). Prints one JSON object per line:
 * `{"name": ..., "value": ..., "unit": ...}`.
 *
 *   node --import tsx bench/parser-compare.ts [--runs=5] [--no-memory]
 *
 * 1. correctness: every file of emails/charsets/ and emails/mailparser/ (with history-2012/),
 *    judged against the text a person reads in the bytes (the table below): subject, body,
 *    attachment names and decoded sizes must hold the expected words and no U+FFFD.
 * 2. throughput: every .eml of the corpus, from memory, median of `--runs` runs.
 * 3. peak memory: a generated 35 MB mail (one 25.5 MB attachment, base64), each parser in a
 *    fresh child process reading the file as a stream: peak RSS (getrusage), and peak heap and
 *    ArrayBuffer memory sampled every 2 ms. `baseline` loads everything and parses nothing;
 *    `postdesk-scan` is the parse stage alone, `postdesk` adds re-reading the attachment through
 *    `AttachmentMeta.open()` into a hash (what deliver does when it uploads).
 */
import { spawnSync } from 'node:child_process';
import { createHash, randomBytes } from 'node:crypto';
import { once } from 'node:events';
import {
  createReadStream,
  createWriteStream,
  existsSync,
  readdirSync,
  readFileSync,
  statSync,
} from 'node:fs';
import { tmpdir } from 'node:os';
import { join, relative } from 'node:path';
import { Readable, Writable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { fileURLToPath } from 'node:url';
import { type AttachmentStream, MailParser, type MessageText, simpleParser } from 'mailparser';
import PostalMime from 'postal-mime';
import { LimitsSchema } from '../core/config/schema.ts';
import { parseMail } from '../core/stages/parse/index.ts';

const ROOT = fileURLToPath(new URL('..', import.meta.url));
const CORPUS = join(ROOT, 'test/fixtures/corpus');
const LIMITS = LimitsSchema.parse({});

/** The options Postdesk would run mailparser with: no HTML-to-text, no linkify (DoS guards). */
const MAILPARSER_OPTIONS = {
  skipHtmlToText: true,
  skipTextToHtml: true,
  skipTextLinks: true,
  skipImageLinks: true,
  keepDeliveryStatus: true,
} as const;

const emit = (name: string, value: number | string, unit: string): void => {
  process.stdout.write(`${JSON.stringify({ name, value, unit })}\n`);
};

// --- one shape for every parser -----------------------------------------------------------------

interface Outcome {
  subject: string | undefined;
  body: string;
  attachments: { filename: string | undefined; size: number }[];
}

type Parser = (raw: Buffer | string) => Promise<Outcome>;

const asStream = (raw: Buffer | string): Readable =>
  typeof raw === 'string' ? createReadStream(raw) : Readable.from([raw]);

/** mailparser's streaming class: attachments arrive as streams, are counted, released. */
const runMailParser: Parser = (raw) =>
  new Promise((resolve, reject) => {
    const parser = new MailParser(MAILPARSER_OPTIONS);
    const outcome: Outcome = { subject: undefined, body: '', attachments: [] };
    parser.on('headers', (headers: Map<string, unknown>) => {
      const subject = headers.get('subject');
      outcome.subject = typeof subject === 'string' ? subject : undefined;
    });
    parser.on('data', (data: AttachmentStream | MessageText) => {
      if (data.type === 'text') {
        outcome.body = `${data.text ?? ''}\n${typeof data.html === 'string' ? data.html : ''}`;
        return;
      }
      const entry = { filename: data.filename, size: 0 };
      outcome.attachments.push(entry);
      const content = data.content as Readable;
      content.on('data', (chunk: Buffer) => {
        entry.size += chunk.length;
      });
      content.on('end', () => data.release());
    });
    parser.on('error', reject);
    parser.on('end', () => resolve(outcome));
    asStream(raw).pipe(parser);
  });

const runPostalMime: Parser = async (raw) => {
  const input = typeof raw === 'string' ? readFileSync(raw) : raw;
  const email = await PostalMime.parse(input);
  return {
    subject: email.subject,
    body: `${email.text ?? ''}\n${email.html ?? ''}`,
    attachments: email.attachments.map((attachment) => ({
      filename: attachment.filename ?? undefined,
      size:
        typeof attachment.content === 'string' ? attachment.content.length : attachment.content.byteLength,
    })),
  };
};

const runPostdesk: Parser = async (raw) => {
  const result = await parseMail(async () => asStream(raw), { limits: LIMITS });
  if (!result.ok) throw new Error(`${result.reason}: ${result.message}`);
  const mail = result.value;
  return {
    subject: mail.subject,
    body: `${mail.text ?? ''}\n${mail.html ?? ''}`,
    attachments: mail.attachments.map((attachment) => ({
      filename: attachment.filename,
      size: attachment.size,
    })),
  };
};

const PARSERS: Record<string, Parser> = {
  mailparser: runMailParser,
  'postal-mime': runPostalMime,
  postdesk: runPostdesk,
};

// --- 1. correctness -----------------------------------------------------------------------------

interface Expected {
  subject?: string[];
  body?: string[];
  /** Every attachment, in order: decoded file name (undefined when none) and decoded size. */
  attachments?: [string | undefined, number][];
}

/**
 * What the bytes say, read by hand (see docs/PARSER.md for the reasoning on the odd ones). The
 * double-encoded Big5 file is judged on the Chinese its bytes were meant to be.
 */
const EXPECTED: Record<string, Expected> = {
  'charsets/mail-big5-label-utf-8-mojibake.eml': {
    subject: ['大家說英語', '繁體中文光碟版'],
    body: ['軟體帝國更新迅速', '內置防止彈出視窗工能'],
  },
  'charsets/mail-euc-kr-body-utf-8-mixed-subject.eml': {
    subject: ['Re: Test: "漢字" mid "漢字" tail'],
    body: ['대부분의 마찬가지로', '하나님을 믿습니다'],
  },
  'charsets/mail-euc-kr-q-subject-base64-body.eml': {
    subject: ['NOTE: 한국말로 하는 것'],
    body: ['제 이름은 Jamis입니다'],
  },
  'charsets/mail-euc-kr-raw-utf-8-date-comment.eml': {
    subject: ['NOTE: 한국말로 하는 것'],
    body: ['제 이름은 Jamis입니다'],
  },
  'charsets/mail-iso-2022-jp-body.eml': { subject: ['まみむめも'], body: ['すみません。'] },
  'charsets/mail-iso-2022-jp-folded-subject.eml': { subject: ['テストテスト'], body: ['Hello'] },
  'charsets/mail-iso-2022-jp-rfc2231-filename-invalid.eml': {
    subject: ['Signed email causes file attachments'],
    body: ['oddly encoded with japanese charset'],
    // 0x8A is not a character in ISO-2022-JP: the honest decoding marks it, it does not guess a letter.
    attachments: [['01 Quien Te Dij\ufffdat. Pitbull.mp3', 399]],
  },
  'charsets/mail-iso-8859-1-label-utf-8-body-7bit-cte.eml': {
    subject: ['Discover(R) Card News Online'],
    body: ['DISCOVERÆ CARD', '©2002 Discover Bank'],
  },
  'charsets/mail-iso-8859-1-rfc2231-and-q-filename.eml': {
    subject: ['Eelanalüüsi päring'],
    attachments: [['Eelanalüüsi päring.jpg', 1952]],
  },
  'charsets/mail-ks_c_5601-1987-8bit-body.eml': { body: ['스티해'] },
  'charsets/mail-no-charset-utf-8-body.eml': { body: ['Envoyé par le service', 'Bell Mobilité'] },
  'charsets/mail-none-charset-bad-b-word.eml': { subject: ['TEST'], body: ['TEST'] },
  'charsets/mail-raw-8bit-utf-8-filename.eml': { body: ['first part'], attachments: [['ciële.txt', 11]] },
  'charsets/mail-raw-utf-8-subject-iso-8859-1-body.eml': { subject: ['GA.comô has a lead for you'] },
  'charsets/mail-shift_jis-8bit-body.eml': {
    body: ['このメールはテスト用のメールです', 'よろしくお願い申し上げます'],
  },
  'charsets/mail-us-ascii-label-utf-8-body.eml': { body: ['Envoyé par le service', 'Bell Mobilité'] },
  'charsets/mail-utf-8-b-word-long-filename.eml': {
    subject: ['まみむめも'.repeat(10)],
    attachments: [[`${'かきくけこ'.repeat(5)}.txt`, 18]],
  },
  'charsets/mail-windows-1251-b-from-qp-body.eml': { body: ['scanned for viruses'] },
  'charsets/mail-windows-1252-b-from-raw-8bit-subject.eml': {
    subject: ['Formação FrenetikPolis: Mega Campanha Final Verão'],
  },
  'charsets/mail-x-unknown-charset-utf-8-body.eml': { body: ['Envoyé par le service', 'Bell Mobilité'] },
  'charsets/mimekit-iso-2022-jp-subject-body.eml': {
    subject: ['日本語メールテスト (testing Japanese emails)'],
    body: ['日本語が', '正常に', '送れているか'],
  },
  'charsets/mimekit-koi8-r-qp-body-tnef.eml': { body: ['шостий'], attachments: [['winmail.dat', 9566]] },
  'charsets/stalwart-utf-16-euc-jp-parts.eml': { body: ['Test message', '『世界人権宣言』'] },
  'charsets/stalwart-windows-1252-qp-malformed.eml': { body: ['BlackBerry®'] },
  'charsets/stalwart-windows-1252-qp-related.eml': {
    body: ['hähä', 'höhö'],
    attachments: [
      ['kigaaldcbanejcbi.png', 242],
      ['attach2.png', 158],
    ],
  },
  'mailparser/base64encodedroot.eml': { attachments: [['screenshot.png', 425]] },
  'mailparser/decoderended.eml': { body: ['forwarded message attached', 'html sectionÜ'] },
  'mailparser/delivery-status.eml': {
    subject: ['Delivery Status Notification'],
    body: ['An error occurred'],
    attachments: [
      [undefined, 461],
      [undefined, 1024],
    ],
  },
  'mailparser/htmllargecallstack.eml': { subject: ['Kill the HTML parser'] },
  'mailparser/large_text.eml': { subject: ['[Bug 381598]'], body: ['ubiquity crashes'] },
  'mailparser/mixed.eml': { body: ['Good Morning;', 'scanned for Viruses'] },
  'mailparser/nested.eml': { body: ['Dear Sir', 'The footer'] },
  'mailparser/nodemailer.eml': {
    subject: ['Nodemailer is unicode friendly ✔'],
    body: ['Hello to myself'],
    attachments: [
      [undefined, 22],
      ['image.png', 126],
      ['nyan cat ✔.gif', 29361],
      ['notes.txt', 28],
    ],
  },
  'mailparser/outofmemory.eml': { subject: ['Cause out of memory error'] },
  'mailparser/spam.eml': { subject: ['123.042 Euro pro Jahr'], body: ['Im Jahre 2007'] },
  'mailparser/history-2012/applequoted.eml': { subject: ['test'], attachments: [['test.txt', 18]] },
  'mailparser/history-2012/mail.eml': {
    subject: ['special characters like š and õ'],
    body: ['special characters (öäõü)'],
    attachments: [['favourite.gif', 1668]],
  },
  'mailparser/history-2012/sparrow.eml': { subject: ['Tere öäõü'], body: ['Kuidas läheb?'] },
  'mailparser/history-2012/test.eml': {
    subject: ['punicode  friendly ✔', 'öäõü'],
    body: ['ÖÄÕÜ žčš'],
    attachments: [
      ['notes.txt', 28],
      ['image.png', 126],
    ],
  },
};

/** Why an outcome is wrong, or undefined when it is right. */
const judge = (outcome: Outcome, expected: Expected): string | undefined => {
  const expectsReplacement = JSON.stringify(expected).includes('\\ufffd');
  for (const word of expected.subject ?? []) {
    if (!(outcome.subject ?? '').includes(word)) return `subject lacks ${JSON.stringify(word)}`;
  }
  for (const word of expected.body ?? []) {
    if (!outcome.body.includes(word)) return `body lacks ${JSON.stringify(word)}`;
  }
  if (!expectsReplacement && `${outcome.subject}${outcome.body}`.includes('\ufffd')) return 'U+FFFD in text';
  if (expected.attachments !== undefined) {
    const got = outcome.attachments.map((attachment) => [attachment.filename, attachment.size]);
    if (JSON.stringify(got) !== JSON.stringify(expected.attachments)) {
      return `attachments ${JSON.stringify(got)}`;
    }
  }
  return undefined;
};

const correctness = async (): Promise<void> => {
  for (const [parserName, parser] of Object.entries(PARSERS)) {
    const totals = { charsets: [0, 0], mailparser: [0, 0], attachments: [0, 0] };
    for (const [file, expected] of Object.entries(EXPECTED)) {
      const group = file.startsWith('charsets/') ? totals.charsets : totals.mailparser;
      let verdict: string | undefined;
      let outcome: Outcome | undefined;
      try {
        outcome = await parser(readFileSync(join(CORPUS, 'emails', file)));
        verdict = judge(outcome, expected);
      } catch (error) {
        verdict = `threw ${error instanceof Error ? error.message : String(error)}`;
      }
      group[1] = (group[1] ?? 0) + 1;
      if (verdict === undefined) group[0] = (group[0] ?? 0) + 1;
      if (expected.attachments !== undefined) {
        totals.attachments[1] = (totals.attachments[1] ?? 0) + 1;
        const got = outcome?.attachments.map((attachment) => [attachment.filename, attachment.size]);
        if (JSON.stringify(got) === JSON.stringify(expected.attachments)) {
          totals.attachments[0] = (totals.attachments[0] ?? 0) + 1;
        }
      }
      emit(`correct.${parserName}.${file}`, verdict === undefined ? 1 : 0, verdict ?? 'right');
    }
    emit(`correct.${parserName}.charsets`, totals.charsets[0] ?? 0, `files right of ${totals.charsets[1]}`);
    emit(
      `correct.${parserName}.mailparser`,
      totals.mailparser[0] ?? 0,
      `files right of ${totals.mailparser[1]}`,
    );
    emit(
      `correct.${parserName}.attachments`,
      totals.attachments[0] ?? 0,
      `files with every attachment name and size right, of ${totals.attachments[1]}`,
    );
  }
};

// --- 2. throughput ------------------------------------------------------------------------------

const corpusMails = (): Buffer[] => {
  const files: string[] = [];
  const walk = (dir: string): void => {
    for (const entry of readdirSync(dir, { withFileTypes: true })) {
      const path = join(dir, entry.name);
      if (entry.isDirectory()) walk(path);
      else if (entry.name.endsWith('.eml')) files.push(path);
    }
  };
  walk(CORPUS);
  return files.sort().map((path) => readFileSync(path));
};

const median = (values: number[]): number => {
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.floor(sorted.length / 2)] ?? 0;
};

const throughput = async (runs: number): Promise<void> => {
  const mails = corpusMails();
  const bytes = mails.reduce((sum, mail) => sum + mail.length, 0);
  emit('throughput.corpus.mails', mails.length, 'mails');
  emit('throughput.corpus.bytes', bytes, 'bytes');
  const rates = new Map<string, number[]>();
  for (const parser of Object.values(PARSERS)) for (const mail of mails) await parser(mail); // JIT warm-up
  // Runs are interleaved (A B C, A B C, ...) so load from elsewhere on the machine hits all alike.
  for (let run = 0; run < runs; run++) {
    for (const [parserName, parser] of Object.entries(PARSERS)) {
      const started = performance.now();
      for (const mail of mails) await parser(mail);
      const rate = mails.length / ((performance.now() - started) / 1000);
      rates.set(parserName, [...(rates.get(parserName) ?? []), rate]);
    }
  }
  for (const [parserName, measured] of rates) {
    const rate = median(measured);
    emit(`throughput.${parserName}`, Math.round(rate * 10) / 10, `mails/s (median of ${runs})`);
    emit(
      `throughput.${parserName}.bytes`,
      Math.round(((rate * bytes) / mails.length / 1e6) * 100) / 100,
      'MB/s',
    );
  }
};

// --- 3. peak memory on a large mail -------------------------------------------------------------

const ATTACHMENT_BYTES = 25_500_000;

const bigMailPath = async (): Promise<string> => {
  const path = join(tmpdir(), `postdesk-bench-35mb-${ATTACHMENT_BYTES}.eml`);
  if (existsSync(path)) return path;
  const out = createWriteStream(path);
  out.write(
    'From: Big Sender <big@example.com>\r\nTo: support@desk.example.com\r\nSubject: A 35 MB mail\r\n' +
      'MIME-Version: 1.0\r\nContent-Type: multipart/mixed; boundary="big"\r\n\r\n--big\r\n' +
      'Content-Type: text/plain; charset=utf-8\r\n\r\nThe logs are attached.\r\n--big\r\n' +
      'Content-Type: application/octet-stream; name="logs.bin"\r\nContent-Disposition: attachment; filename="logs.bin"\r\n' +
      'Content-Transfer-Encoding: base64\r\n\r\n',
  );
  // 57 raw bytes make one 76-character base64 line.
  const lineBytes = 57;
  const block = lineBytes * 10_000;
  for (let done = 0; done < ATTACHMENT_BYTES; done += block) {
    const data = randomBytes(Math.min(block, ATTACHMENT_BYTES - done));
    const lines: string[] = [];
    for (let offset = 0; offset < data.length; offset += lineBytes) {
      lines.push(data.subarray(offset, offset + lineBytes).toString('base64'));
    }
    if (!out.write(`${lines.join('\r\n')}\r\n`)) await once(out, 'drain');
  }
  out.end('--big--\r\n');
  await once(out, 'finish');
  return path;
};

/** Runs in the child: parse the big mail once, sampling memory, and print the peaks as JSON. */
const memoryChild = async (parserName: string, path: string): Promise<void> => {
  const peaks = { heap: 0, arrayBuffers: 0 };
  const sample = (): void => {
    const usage = process.memoryUsage();
    peaks.heap = Math.max(peaks.heap, usage.heapUsed);
    peaks.arrayBuffers = Math.max(peaks.arrayBuffers, usage.arrayBuffers);
  };
  const timer = setInterval(sample, 2);
  const started = performance.now();
  let size = 0;
  const hash = createHash('sha256');
  const drainInto = async (stream: Readable): Promise<void> => {
    await pipeline(
      stream,
      new Writable({
        write(chunk: Buffer, _encoding, callback) {
          hash.update(chunk);
          size += chunk.length;
          callback();
        },
      }),
    );
  };
  if (parserName === 'mailparser') {
    const outcome = await runMailParser(path);
    size = outcome.attachments[0]?.size ?? 0;
  } else if (parserName === 'mailparser-simple') {
    const parsed = await simpleParser(createReadStream(path), MAILPARSER_OPTIONS);
    size = parsed.attachments[0]?.content.length ?? 0;
  } else if (parserName === 'postal-mime') {
    const email = await PostalMime.parse(
      Readable.toWeb(createReadStream(path)) as ReadableStream<Uint8Array>,
    );
    const content = email.attachments[0]?.content;
    size = content === undefined ? 0 : typeof content === 'string' ? content.length : content.byteLength;
  } else if (parserName === 'postdesk-scan') {
    const result = await parseMail(async () => createReadStream(path), {
      limits: LIMITS,
      size: statSync(path).size,
    });
    size = result.ok ? (result.value.attachments[0]?.size ?? 0) : 0;
  } else if (parserName === 'postdesk') {
    const result = await parseMail(async () => createReadStream(path), {
      limits: LIMITS,
      size: statSync(path).size,
    });
    const attachment = result.ok ? result.value.attachments[0] : undefined;
    if (attachment !== undefined) await drainInto(await attachment.open());
  } else if (parserName !== 'baseline') {
    throw new Error(`unknown parser ${parserName}`);
  }
  sample();
  clearInterval(timer);
  process.stdout.write(
    JSON.stringify({
      ms: performance.now() - started,
      size,
      heap: peaks.heap,
      arrayBuffers: peaks.arrayBuffers,
      rss: process.resourceUsage().maxRSS * 1024,
    }),
  );
};

const memory = async (): Promise<void> => {
  const path = await bigMailPath();
  emit('memory.mail.bytes', statSync(path).size, 'bytes');
  emit('memory.mail.attachment', ATTACHMENT_BYTES, 'bytes decoded');
  const self = fileURLToPath(import.meta.url);
  const children = [
    'baseline',
    'mailparser',
    'mailparser-simple',
    'postal-mime',
    'postdesk-scan',
    'postdesk',
  ];
  for (const parserName of children) {
    const child = spawnSync(
      process.execPath,
      ['--import', 'tsx', self, `--memory-child=${parserName}`, path],
      {
        cwd: ROOT,
        encoding: 'utf8',
        maxBuffer: 1024 * 1024,
      },
    );
    if (child.status !== 0) {
      emit(`memory.${parserName}.failed`, child.status ?? -1, child.stderr.slice(0, 200));
      continue;
    }
    const figures = JSON.parse(child.stdout) as Record<string, number>;
    const mb = (bytes: number | undefined): number => Math.round(((bytes ?? 0) / 1024 / 1024) * 10) / 10;
    emit(`memory.${parserName}.rss_peak`, mb(figures['rss']), 'MiB');
    emit(`memory.${parserName}.heap_used_peak`, mb(figures['heap']), 'MiB (sampled every 2 ms)');
    emit(`memory.${parserName}.array_buffers_peak`, mb(figures['arrayBuffers']), 'MiB (sampled every 2 ms)');
    if (parserName !== 'baseline') {
      emit(`memory.${parserName}.ms`, Math.round(figures['ms'] ?? 0), 'ms (one cold run in a fresh process)');
      emit(`memory.${parserName}.attachment_bytes`, figures['size'] ?? 0, 'bytes decoded');
    }
  }
};

// --- main ---------------------------------------------------------------------------------------

const main = async (): Promise<void> => {
  const args = process.argv.slice(2);
  const child = args.find((arg) => arg.startsWith('--memory-child='));
  if (child !== undefined) {
    await memoryChild(child.slice('--memory-child='.length), args[1] ?? '');
    return;
  }
  const runs = Number(args.find((arg) => arg.startsWith('--runs='))?.slice('--runs='.length) ?? 5);
  emit('node.version', process.version, relative(ROOT, fileURLToPath(import.meta.url)));
  await correctness();
  await throughput(runs);
  if (!args.includes('--no-memory')) await memory();
};

await main();
