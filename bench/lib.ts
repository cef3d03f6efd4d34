/**
 * What the performance benchmarks share: the output format, arguments, statistics, child
 * processes, in-memory ports and generated mail. See docs/PERFORMANCE.md for how each benchmark
 * works.
 *
 * Output: one JSON object per line on stdout, `{"name", "value", "unit"}`, plus `baseline` and
 * `ratio` (value / baseline) where there is a baseline measured in the same run, and `goal` /
 * `met` where the issue sets one. Everything else (progress, diagnostics) goes to stderr.
 */
import { spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { once } from 'node:events';
import { createWriteStream, readdirSync, readFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { Readable } from 'node:stream';
import { fileURLToPath } from 'node:url';
import { ConfigSchema, type DeskConfig, RateLimitsSchema } from '../core/config/schema.ts';
import { PermanentError } from '../core/errors.ts';
import type { InboundMail } from '../core/model.ts';
import type { Logger, ObjectStore, RawMailStore, SecretSource } from '../core/ports.ts';

export const ROOT = fileURLToPath(new URL('..', import.meta.url));
export const CORPUS = join(ROOT, 'test/fixtures/corpus');

// --- output -------------------------------------------------------------------------------------

/** A goal from the issue: the value (or the ratio, when `of` is `ratio`) compared to `limit`. */
export interface Goal {
  of: 'value' | 'ratio';
  op: '<=' | '>=';
  limit: number;
}

export interface BenchResult {
  name: string;
  value: number;
  unit: string;
  baseline?: number | undefined;
  ratio?: number | undefined;
  /** Extra figures that explain the value (sample counts, breakdowns). */
  [extra: string]: unknown;
}

export const round = (value: number, digits = 1): number => {
  const scale = 10 ** digits;
  return Math.round(value * scale) / scale;
};

/** The result with its ratio and goal filled in. */
export const result = (fields: BenchResult, goal?: Goal): BenchResult & { goal?: string; met?: boolean } => {
  const out: BenchResult & { goal?: string; met?: boolean } = { ...fields };
  if (fields.baseline !== undefined && fields.baseline !== 0 && out.ratio === undefined) {
    out.ratio = round(fields.value / fields.baseline, 3);
  }
  if (goal) {
    const measured = goal.of === 'ratio' ? out.ratio : fields.value;
    out.goal = `${goal.of} ${goal.op} ${goal.limit}`;
    if (measured !== undefined) out.met = goal.op === '<=' ? measured <= goal.limit : measured >= goal.limit;
  }
  return out;
};

export const emit = (record: BenchResult, goal?: Goal): void => {
  process.stdout.write(`${JSON.stringify(result(record, goal))}\n`);
};

/** Progress and diagnostics: stderr only, so stdout stays JSON lines. */
export const progress = (message: string): void => {
  process.stderr.write(`[bench] ${message}\n`);
};

// --- arguments ----------------------------------------------------------------------------------

export interface BenchArgs {
  /** Tiny inputs and one iteration: for the shape test, never for figures. */
  smoke: boolean;
  /** Benchmark names to run (`--only NAME`, repeatable or comma-separated); empty: all. */
  only: string[];
  /** `--runs=N` / `--runs N`: repetitions, overriding each benchmark's default. */
  runs: number | undefined;
  /** `--child=KIND`: this process is one measurement spawned by the benchmark itself. */
  child: string | undefined;
  /** Everything else, in order. */
  rest: string[];
}

export const parseBenchArgs = (argv: readonly string[] = process.argv.slice(2)): BenchArgs => {
  const args: BenchArgs = { smoke: false, only: [], runs: undefined, child: undefined, rest: [] };
  for (let index = 0; index < argv.length; index++) {
    const arg = argv[index] ?? '';
    const [flag, inline] =
      arg.startsWith('--') && arg.includes('=') ? arg.split(/=(.*)/s, 2) : [arg, undefined];
    const value = (): string => {
      if (inline !== undefined) return inline;
      index += 1;
      const next = argv[index];
      if (next === undefined) throw new Error(`${flag} needs a value`);
      return next;
    };
    if (flag === '--smoke') args.smoke = true;
    else if (flag === '--only')
      args.only.push(
        ...value()
          .split(',')
          .filter((name) => name !== ''),
      );
    else if (flag === '--runs') {
      const runs = Number(value());
      if (!Number.isInteger(runs) || runs < 1) throw new Error('--runs must be a positive whole number');
      args.runs = runs;
    } else if (flag === '--child') args.child = value();
    else args.rest.push(arg);
  }
  return args;
};

/** True when `name` was asked for (no `--only` means every benchmark). */
/** True when the module at `url` is the script node was started with (not imported). */
export const isMain = (url: string): boolean =>
  process.argv[1] !== undefined && resolve(process.argv[1]) === fileURLToPath(url);

export const wanted = (args: BenchArgs, name: string): boolean =>
  args.only.length === 0 || args.only.includes(name);

// --- statistics ---------------------------------------------------------------------------------

export const median = (values: readonly number[]): number => {
  if (values.length === 0) return Number.NaN;
  const sorted = [...values].sort((a, b) => a - b);
  const middle = Math.floor(sorted.length / 2);
  return sorted.length % 2 === 1
    ? (sorted[middle] ?? Number.NaN)
    : ((sorted[middle - 1] ?? 0) + (sorted[middle] ?? 0)) / 2;
};

// --- child processes ----------------------------------------------------------------------------

export interface ChildOutcome {
  code: number | null;
  stdout: string;
  stderr: string;
  /** Wall-clock milliseconds from spawn to exit, as the parent saw them. */
  ms: number;
}

/** Runs a process to its end and collects its output. */
export const runProcess = (
  command: string,
  args: readonly string[],
  options: { env?: NodeJS.ProcessEnv; cwd?: string; timeoutMs?: number } = {},
): Promise<ChildOutcome> =>
  new Promise((resolve, reject) => {
    const started = performance.now();
    const child = spawn(command, args, {
      cwd: options.cwd ?? ROOT,
      env: options.env ?? process.env,
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    const out: Buffer[] = [];
    const err: Buffer[] = [];
    child.stdout.on('data', (chunk: Buffer) => out.push(chunk));
    child.stderr.on('data', (chunk: Buffer) => err.push(chunk));
    const timer =
      options.timeoutMs === undefined
        ? undefined
        : setTimeout(() => child.kill('SIGKILL'), options.timeoutMs).unref();
    child.once('error', reject);
    child.once('close', (code) => {
      if (timer) clearTimeout(timer);
      resolve({
        code,
        stdout: Buffer.concat(out).toString('utf8'),
        stderr: Buffer.concat(err).toString('utf8'),
        ms: performance.now() - started,
      });
    });
  });

/**
 * Runs `bench/<script>` in a fresh `node --import tsx` process with `--child=<kind>` and returns
 * the JSON object it printed last on stdout. A child that fails throws with its stderr.
 */
export const runChild = async <T>(
  script: string,
  kind: string,
  extra: readonly string[] = [],
): Promise<T> => {
  const outcome = await runProcess(process.execPath, [
    '--import',
    'tsx',
    join(ROOT, 'bench', script),
    `--child=${kind}`,
    ...extra,
  ]);
  const last = outcome.stdout.trim().split('\n').pop() ?? '';
  if (outcome.code !== 0 || last === '') {
    throw new Error(`bench/${script} --child=${kind} exited ${outcome.code}: ${outcome.stderr.slice(-2000)}`);
  }
  return JSON.parse(last) as T;
};

/**
 * Peak resident set size of this process so far, in MiB: `VmHWM` from /proc/self/status on Linux,
 * else getrusage's `ru_maxrss`. Not `ru_maxrss` where there is a choice: Linux carries it across
 * fork and exec, so a child's figure starts at its parent's resident Buffers (a parent holding
 * 400 MB made a bare `node -e` child report 404 MiB); `VmHWM` belongs to the process's own
 * address space, which exec makes new.
 */
export const peakRssMiB = (): number => {
  try {
    const match = /^VmHWM:\s+(\d+) kB$/m.exec(readFileSync('/proc/self/status', 'utf8'));
    if (match?.[1] !== undefined) return Number(match[1]) / 1024;
  } catch {
    // Not Linux: fall back to getrusage.
  }
  return process.resourceUsage().maxRSS / 1024;
};

// --- the pipeline's ports, in memory --------------------------------------------------------------

export const DESK_DOMAIN = 'desk.example.com';
export const GAME_ADDRESS = `support+game@${DESK_DOMAIN}`;

/**
 * The inbound rate limits with their default windows (so the limiter reads and writes as many
 * counters as it does in production) and maxima no benchmark reaches: a benchmark sends a desk
 * more mail in ten seconds than the default 30, and would measure quarantines instead of work.
 */
const unreachableRateLimits = (): Record<string, unknown> =>
  Object.fromEntries(
    Object.entries(RateLimitsSchema.parse({})).map(([key, value]) => [
      key,
      typeof value === 'object' && value !== null
        ? Object.fromEntries(Object.keys(value).map((window) => [window, 1_000_000_000]))
        : value,
    ]),
  );

/** The desk the benchmarks run: one project, `acme/game`, reached at support+game@desk.example.com. */
export const benchConfig = (forgeUrl = 'https://gitlab.example.com'): DeskConfig =>
  ConfigSchema.parse({
    domain: DESK_DOMAIN,
    forge: { kind: 'gitlab', url: forgeUrl },
    bot_username: 'postdesk-bot',
    rate_limits: unreachableRateLimits(),
    projects: [{ path: 'acme/game', key: 'game' }],
  });

/** Raw mail held in memory and streamed in 64 KiB chunks, as an S3 body arrives. */
export const memoryRawStore = (mails: ReadonlyMap<string, Buffer>): RawMailStore => ({
  async open(key) {
    const bytes = mails.get(key);
    if (!bytes) throw new PermanentError('raw_missing', `no raw mail ${key}`);
    const chunk = 64 * 1024;
    const chunks: Buffer[] = [];
    for (let offset = 0; offset < bytes.length; offset += chunk) {
      chunks.push(bytes.subarray(offset, offset + chunk));
    }
    return Readable.from(chunks);
  },
  async size(key) {
    return mails.get(key)?.length;
  },
});

/** Counts the object-store requests a mail makes (what S3 would bill), then delegates. */
export interface CountingStore extends ObjectStore {
  readonly counts: { get: number; put: number; delete: number; list: number };
}

export const countingStore = (inner: ObjectStore): CountingStore => {
  const counts = { get: 0, put: 0, delete: 0, list: 0 };
  return {
    counts,
    get: (key) => {
      counts.get += 1;
      return inner.get(key);
    },
    putIfAbsent: (key, body) => {
      counts.put += 1;
      return inner.putIfAbsent(key, body);
    },
    putIfMatch: (key, body, etag) => {
      counts.put += 1;
      return inner.putIfMatch(key, body, etag);
    },
    put: (key, body) => {
      counts.put += 1;
      return inner.put(key, body);
    },
    delete: (key) => {
      counts.delete += 1;
      return inner.delete(key);
    },
    list: (prefix) => {
      counts.list += 1;
      return inner.list(prefix);
    },
  };
};

/** Counts opens and size look-ups of a raw store (S3 GetObject and HeadObject). */
export const countingRawStore = (
  inner: RawMailStore,
): RawMailStore & { readonly counts: { open: number; size: number } } => {
  const counts = { open: 0, size: 0 };
  return {
    counts,
    open: (key) => {
      counts.open += 1;
      return inner.open(key);
    },
    size: (key) => {
      counts.size += 1;
      return inner.size(key);
    },
  };
};

/** Not a real credential: the reply-token key of the benchmark desk. */
export const benchSecrets = (forgeToken = 'bench-not-a-token'): SecretSource => {
  const secret = { forge_token: forgeToken, reply_key: 'bench-reply-key-0123456789abcdef' };
  return { get: async () => secret, refresh: async () => secret };
};

export const quietLogger: Logger = { debug() {}, info() {}, warn() {}, error() {} };

/** A mail as SES hands it over: every verdict PASS, addressed to the game desk. */
export const inboundMail = (id: string, rawKey = id): InboundMail => ({
  id,
  rawKey,
  envelope: { recipients: [GAME_ADDRESS], mailFrom: 'customer@example.org' },
  verdicts: { spf: 'PASS', dkim: 'PASS', dmarc: 'PASS', spam: 'PASS', virus: 'PASS', source: 'ses' },
  receivedAt: new Date('2026-03-02T10:00:00.000Z'),
});

// --- the corpus -----------------------------------------------------------------------------------

export interface CorpusMail {
  /** Path relative to the corpus root. */
  name: string;
  bytes: Buffer;
}

const emlUnder = (dir: string, recursive: boolean): string[] => {
  const files: string[] = [];
  for (const entry of readdirSync(dir, { withFileTypes: true })) {
    const path = join(dir, entry.name);
    if (entry.isDirectory() && recursive) files.push(...emlUnder(path, true));
    else if (entry.isFile() && entry.name.endsWith('.eml')) files.push(path);
  }
  return files;
};

/** Every .eml under emails/ and replies/talon/standard_replies/, sorted by name. */
export const corpusMails = (): CorpusMail[] =>
  [
    ...emlUnder(join(CORPUS, 'emails'), true),
    ...emlUnder(join(CORPUS, 'replies/talon/standard_replies'), false),
  ]
    .sort()
    .map((path) => ({ name: path.slice(CORPUS.length + 1), bytes: readFileSync(path) }));

// --- generated mail -------------------------------------------------------------------------------

export interface GeneratedAttachment {
  filename: string;
  contentType: string;
  content: Buffer;
}

/** Base64 in 76-character lines (RFC 2045 §6.8), CRLF-terminated. */
export const base64Lines = (content: Buffer): string => {
  const lines: string[] = [];
  // 57 raw bytes make one 76-character line.
  for (let offset = 0; offset < content.length; offset += 57) {
    lines.push(content.subarray(offset, offset + 57).toString('base64'));
  }
  return lines.length === 0 ? '' : `${lines.join('\r\n')}\r\n`;
};

const MAIL_HEAD = (subject: string, boundary: string, messageId: string): string =>
  'From: Customer <customer@example.org>\r\n' +
  `To: ${GAME_ADDRESS}\r\n` +
  `Subject: ${subject}\r\n` +
  'Date: Mon, 02 Mar 2026 10:00:00 +0000\r\n' +
  `Message-ID: <${messageId}@example.org>\r\n` +
  'MIME-Version: 1.0\r\n' +
  `Content-Type: multipart/mixed; boundary="${boundary}"\r\n\r\n`;

const attachmentHead = (boundary: string, attachment: Omit<GeneratedAttachment, 'content'>): string =>
  `--${boundary}\r\n` +
  `Content-Type: ${attachment.contentType}; name="${attachment.filename}"\r\n` +
  `Content-Disposition: attachment; filename="${attachment.filename}"\r\n` +
  'Content-Transfer-Encoding: base64\r\n\r\n';

/** A small multipart/mixed mail: a text body and base64 attachments, whole in memory. */
export const multipartMail = (options: {
  subject: string;
  text: string;
  attachments: readonly GeneratedAttachment[];
  messageId?: string;
}): Buffer => {
  const boundary = `bench-${randomBytes(8).toString('hex')}`;
  let mail = MAIL_HEAD(options.subject, boundary, options.messageId ?? randomBytes(8).toString('hex'));
  mail += `--${boundary}\r\nContent-Type: text/plain; charset=utf-8\r\n\r\n${options.text}\r\n`;
  for (const attachment of options.attachments) {
    mail += attachmentHead(boundary, attachment) + base64Lines(attachment.content);
  }
  return Buffer.from(`${mail}--${boundary}--\r\n`, 'utf8');
};

export interface BigMailShape {
  /** Bytes of the base64 attachment part as it stands in the mail (CRLF line ends included). */
  attachmentEncodedBytes: number;
  /** Bytes of the text/plain body (log lines, ASCII). */
  textBytes: number;
}

export interface BigMailFile {
  path: string;
  /** Size of the whole file. */
  bytes: number;
  /** Decoded size of the attachment (random bytes). */
  attachmentBytes: number;
  textBytes: number;
}

/**
 * Writes a large mail to `path` without holding it: a text/plain body of log lines, then one
 * attachment of random bytes in base64. Streamed in 570 KB blocks, so generating it costs a few
 * MB of memory whatever the size.
 */
export const writeBigMail = async (path: string, shape: BigMailShape): Promise<BigMailFile> => {
  const boundary = 'bench-big-mail';
  const out = createWriteStream(path);
  let bytes = 0;
  const write = async (text: string): Promise<void> => {
    bytes += Buffer.byteLength(text);
    if (!out.write(text)) await once(out, 'drain');
  };
  await write(MAIL_HEAD('Crash logs and a core dump', boundary, 'big-mail'));
  await write(`--${boundary}\r\nContent-Type: text/plain; charset=utf-8\r\n\r\n`);
  await write('The game crashed again; the logs are below and the core dump is attached.\r\n\r\n');
  const line = (n: number): string =>
    `2026-03-02T10:00:${String(n % 60).padStart(2, '0')}.000Z worker-${n % 7} frame ${n} render pass ok\r\n`;
  let text = 0;
  let n = 0;
  let block = '';
  while (text < shape.textBytes) {
    const next = line(n++);
    block += next;
    text += next.length;
    if (block.length > 512 * 1024) {
      await write(block);
      block = '';
    }
  }
  await write(block);
  await write(attachmentHead(boundary, { filename: 'core.dump', contentType: 'application/octet-stream' }));
  // 78 bytes per line in the mail (76 + CRLF) carry 57 decoded bytes.
  const lines = Math.floor(shape.attachmentEncodedBytes / 78);
  const attachmentBytes = lines * 57;
  const linesPerBlock = 10_000;
  for (let done = 0; done < lines; done += linesPerBlock) {
    const count = Math.min(linesPerBlock, lines - done);
    await write(base64Lines(randomBytes(count * 57)));
  }
  await write(`--${boundary}--\r\n`);
  out.end();
  await once(out, 'finish');
  return { path, bytes, attachmentBytes, textBytes: text };
};
