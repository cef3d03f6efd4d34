import { Readable } from 'node:stream';
import { createMemoryObjectStore, type MemoryObjectStore } from '../../adapters/local/memory-object-store.ts';
import { ConfigSchema, type DeskConfig } from '../../core/config/schema.ts';
import { PermanentError } from '../../core/errors.ts';
import type { InboundMail, ReceiptVerdicts } from '../../core/model.ts';
import { type PipelineDeps, processMail } from '../../core/pipeline.ts';
import type { Clock, Forge, Logger, RawMailStore, SecretSource } from '../../core/ports.ts';
import { type DeskState, objectStoreState } from '../../core/state/index.ts';
import { type DecisionTrace, Outcome } from '../../core/trace.ts';
import { createMemoryForge } from '../support/memory-forge.ts';
import { testSecretSource } from '../support/test-secret.ts';

/**
 * The reliability suite's harness: the real pipeline on in-memory ports (raw mail, state, forge),
 * a clock the test moves, the test secret, and a logger that keeps every line. Each test builds
 * what it needs from these; nothing here knows what a test asserts.
 */

export const DOMAIN = 'desk.example.com';
export const GAME_ADDRESS = `support+game@${DOMAIN}`;
export const DOCS_ADDRESS = `support+docs@${DOMAIN}`;

/** A desk config: `acme/game` (key game) and `acme/docs` (key docs), overridable at both levels. */
export const deskConfig = (
  overrides: Record<string, unknown> = {},
  project: Record<string, unknown> = {},
): DeskConfig =>
  ConfigSchema.parse({
    domain: DOMAIN,
    forge: { kind: 'gitlab', url: 'https://gitlab.example.com' },
    bot_username: 'postdesk-bot',
    projects: [
      { path: 'acme/game', key: 'game', id: 7, ...project },
      { path: 'acme/docs', key: 'docs' },
    ],
    ...overrides,
  });

/** Raw mail in memory, like the bucket's `mail/` prefix; `keys()` proves nothing was removed. */
export interface MemoryRawStore extends RawMailStore {
  put(key: string, raw: Buffer | string): void;
  keys(): string[];
  /** Times `open` was called (the parser re-reads for attachments). */
  readonly opens: number;
}

export const memoryRawStore = (): MemoryRawStore => {
  const mails = new Map<string, Buffer>();
  let opens = 0;
  return {
    put(key, raw) {
      mails.set(key, Buffer.isBuffer(raw) ? raw : Buffer.from(raw, 'utf8'));
    },
    keys: () => [...mails.keys()],
    get opens() {
      return opens;
    },
    async open(key) {
      opens += 1;
      const bytes = mails.get(key);
      if (!bytes) throw new PermanentError('raw_missing', `no raw mail ${key}`);
      // Several chunks, so every consumer really streams.
      const size = 16 * 1024;
      const chunks: Buffer[] = [];
      for (let offset = 0; offset < bytes.length; offset += size)
        chunks.push(bytes.subarray(offset, offset + size));
      return Readable.from(chunks);
    },
    async size(key) {
      return mails.get(key)?.length;
    },
  };
};

export interface MovableClock extends Clock {
  advance(ms: number): void;
  set(iso: string): void;
}

export const movableClock = (iso = '2026-03-02T10:00:00.000Z'): MovableClock => {
  let now = Date.parse(iso);
  return {
    now: () => new Date(now),
    advance(ms) {
      now += ms;
    },
    set(next) {
      now = Date.parse(next);
    },
  };
};

export interface LogLine {
  level: 'debug' | 'info' | 'warn' | 'error';
  message: string;
  fields: Record<string, unknown> | undefined;
}

/** A Logger that keeps every line, and can print them all as JSON for a secret scan. */
export const recordingLogger = (): Logger & { lines: LogLine[]; text(): string } => {
  const lines: LogLine[] = [];
  const at =
    (level: LogLine['level']) =>
    (message: string, fields?: Record<string, unknown>): void => {
      lines.push({ level, message, fields });
    };
  return {
    lines,
    debug: at('debug'),
    info: at('info'),
    warn: at('warn'),
    error: at('error'),
    text: () => lines.map((line) => safeJson(line)).join('\n'),
  };
};

/** JSON of anything, errors included (message, stack, cause), never throwing on cycles. */
export const safeJson = (value: unknown): string => {
  const seen = new WeakSet<object>();
  return JSON.stringify(value, (_key, item: unknown) => {
    if (item instanceof Error) {
      return { ...item, name: item.name, message: item.message, stack: item.stack, cause: item.cause };
    }
    if (typeof item === 'bigint') return item.toString();
    if (typeof item === 'object' && item !== null) {
      if (seen.has(item)) return '[cycle]';
      seen.add(item);
    }
    return item;
  });
};

export const passingVerdicts = (source: ReceiptVerdicts['source'] = 'ses'): ReceiptVerdicts => ({
  spf: 'PASS',
  dkim: 'PASS',
  dmarc: 'PASS',
  spam: 'PASS',
  virus: 'PASS',
  source,
});

export interface IngestOptions {
  id?: string;
  recipients?: string[];
  verdicts?: ReceiptVerdicts;
  mailFrom?: string;
}

export interface Harness {
  deps: PipelineDeps;
  raw: MemoryRawStore;
  store: MemoryObjectStore;
  /** The pipeline's state on `store`, on `clock`. */
  state: DeskState;
  forge: Forge;
  clock: MovableClock;
  logger: ReturnType<typeof recordingLogger>;
  /** Stores the raw mail and runs it; the id defaults to `mail-<n>`. */
  ingest(raw: Buffer | string, options?: IngestOptions): Promise<DecisionTrace>;
  /** The InboundMail `ingest` would build (the raw mail stored), for callers that run it themselves. */
  arrive(raw: Buffer | string, options?: IngestOptions): InboundMail;
}

export interface HarnessOptions {
  config?: DeskConfig;
  forge?: Forge;
  clock?: MovableClock;
  secrets?: SecretSource;
  store?: MemoryObjectStore;
  onDelivered?: PipelineDeps['onDelivered'];
}

/** The pipeline on in-memory ports; pass `forge` to use the fake GitLab or a MemoryForge you hold. */
export const createHarness = (options: HarnessOptions = {}): Harness => {
  const forge = options.forge ?? createMemoryForge();
  const raw = memoryRawStore();
  const store = options.store ?? createMemoryObjectStore();
  const clock = options.clock ?? movableClock();
  const logger = recordingLogger();
  const state = objectStoreState(store, { clock });
  const deps: PipelineDeps = {
    config: options.config ?? deskConfig(),
    rawStore: raw,
    state,
    forge,
    secrets: options.secrets ?? testSecretSource(),
    clock,
    logger,
    ...(options.onDelivered ? { onDelivered: options.onDelivered } : {}),
  };
  let counter = 0;
  const arrive = (bytes: Buffer | string, ingest: IngestOptions = {}): InboundMail => {
    counter += 1;
    const id = ingest.id ?? `mail-${counter}`;
    const rawKey = `mail/${id}`;
    raw.put(rawKey, bytes);
    return {
      id,
      rawKey,
      envelope: {
        recipients: ingest.recipients ?? [GAME_ADDRESS],
        mailFrom: ingest.mailFrom ?? 'x@example.com',
      },
      verdicts: ingest.verdicts ?? passingVerdicts(),
      receivedAt: clock.now(),
    };
  };
  return {
    deps,
    raw,
    store,
    state,
    forge,
    clock,
    logger,
    arrive,
    ingest: (bytes, ingest) => processMail(arrive(bytes, ingest), deps),
  };
};

export interface SimpleMail {
  from?: string;
  to?: string;
  subject?: string;
  body?: string;
  messageId?: string;
  headers?: ReadonlyArray<readonly [string, string]>;
}

/** A small RFC 5322 mail with CRLF line ends; extra headers go after the standard ones. */
export const simpleMail = (mail: SimpleMail = {}): Buffer => {
  const lines = [
    `From: ${mail.from ?? 'Alice <alice@example.com>'}`,
    `To: ${mail.to ?? GAME_ADDRESS}`,
    `Subject: ${mail.subject ?? 'The game crashes on start'}`,
    'Date: Mon, 02 Mar 2026 10:00:00 +0000',
    `Message-ID: <${mail.messageId ?? `${Math.random().toString(36).slice(2)}@mail.example.com`}>`,
    'MIME-Version: 1.0',
    'Content-Type: text/plain; charset=utf-8',
    ...(mail.headers ?? []).map(([name, value]) => `${name}: ${value}`),
    '',
    mail.body ?? 'It crashes every time I press start.',
    '',
  ];
  return Buffer.from(lines.join('\r\n'), 'utf8');
};

export const OUTCOMES: readonly string[] = Outcome;

/** A boolean form of expectDecision for fast-check properties and the bench (no expect). */
export const hasDecision = (trace: DecisionTrace): boolean =>
  OUTCOMES.includes(trace.outcome) &&
  /^[a-z0-9_]+$/.test(trace.reason) &&
  typeof trace.message === 'string' &&
  trace.stages.length > 0 &&
  trace.stages.every((stage) => /^[a-z0-9_]+$/.test(stage.reason));
