import { randomBytes } from 'node:crypto';
import { mkdir, open, readdir, readFile, rename, rm } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import * as z from 'zod';
import { PermanentError } from '../core/errors.ts';
import type { Envelope } from '../core/model.ts';
import { localPaths } from './local-state.ts';

/**
 * The local desk's mail queue, the stand-in for the SQS queue and its dead-letter queue:
 *
 *     queue/<id>.json   accepted by SMTP, not yet processed (written before the 250 reply)
 *     dlq/<id>.json     failed transiently too often; `postdesk redrive` moves it back
 *
 * One small JSON file per mail, written to a dot-prefixed temp file, fsynced and renamed into
 * place, so a reader (or a crash) never meets half an entry. The raw mail is `mail/<id>.eml`; an
 * entry only says how it arrived (the envelope, which the message itself cannot tell: Bcc
 * recipients, the client's IP and HELO for SPF) and how its processing went.
 */

const EnvelopeSchema = z.object({
  recipients: z.array(z.string()),
  mailFrom: z.string().optional(),
  remoteIp: z.string().optional(),
  helo: z.string().optional(),
});

const ErrorSchema = z.object({
  code: z.string(),
  message: z.string(),
  at: z.string(),
  /** The decision trace's stages the failed run reached (load, parse... up to the one that failed). */
  stages: z.array(z.unknown()).optional(),
});

export const QueueEntrySchema = z.object({
  version: z.literal(1),
  id: z.string(),
  /** Key in the raw mail store (`mail/`), e.g. `local-<hash>.eml`. */
  rawKey: z.string(),
  envelope: EnvelopeSchema,
  receivedAt: z.string(),
  size: z.number().int().nonnegative().optional(),
  /** Attempts so far (0 before the first). */
  attempts: z.number().int().nonnegative().default(0),
  lastError: ErrorSchema.optional(),
  /** Set on dead letters: when the last attempt gave up. */
  failedAt: z.string().optional(),
  /** How many times `postdesk redrive` moved it back. */
  redriven: z.number().int().nonnegative().optional(),
});
export type QueueEntry = z.output<typeof QueueEntrySchema>;
export type QueueEntryInput = z.input<typeof QueueEntrySchema>;

/** Mail ids as the local desk makes them; anything else could name a file outside the folder. */
const SAFE_ID = /^[A-Za-z0-9_][A-Za-z0-9._-]{0,199}$/;

export const checkedQueueId = (id: string): string => {
  if (!SAFE_ID.test(id)) {
    throw new PermanentError('queue_id_invalid', `queue id ${JSON.stringify(id)} is not valid`);
  }
  return id;
};

/** The envelope as the pipeline wants it (exactOptionalPropertyTypes: absent, never undefined). */
export const envelopeOf = (entry: Pick<QueueEntry, 'envelope'>): Envelope => ({
  recipients: entry.envelope.recipients,
  mailFrom: entry.envelope.mailFrom,
  ...(entry.envelope.remoteIp === undefined ? {} : { remoteIp: entry.envelope.remoteIp }),
  ...(entry.envelope.helo === undefined ? {} : { helo: entry.envelope.helo }),
});

/** Writes `content` to `path` so that a reader sees all of it or nothing, and it survives a crash. */
export const writeFileDurably = async (path: string, content: string | Buffer): Promise<void> => {
  const temp = join(dirname(path), `.${randomBytes(8).toString('hex')}.tmp`);
  try {
    const handle = await open(temp, 'wx', 0o600);
    try {
      await handle.writeFile(content);
      await handle.sync();
    } finally {
      await handle.close();
    }
    await rename(temp, path);
  } catch (error) {
    await rm(temp, { force: true });
    throw error;
  }
};

export interface LocalQueue {
  readonly queueDir: string;
  readonly dlqDir: string;
  /** Writes (or replaces) `queue/<id>.json`. Resolves once it is on disk. */
  put(entry: QueueEntryInput): Promise<QueueEntry>;
  get(id: string): Promise<QueueEntry | undefined>;
  /** Entries waiting, oldest first. An unreadable entry is reported, never silently skipped. */
  list(): Promise<{ entries: QueueEntry[]; unreadable: string[] }>;
  remove(id: string): Promise<void>;
  /** Moves the entry to `dlq/<id>.json` with the error that ended it (and the stages it reached). */
  deadLetter(
    entry: QueueEntry,
    error: { code: string; message: string; stages?: unknown[] | undefined },
    at: Date,
  ): Promise<QueueEntry>;
  listDead(): Promise<{ entries: QueueEntry[]; unreadable: string[] }>;
  /** Moves `dlq/<id>.json` back to `queue/`, attempts reset; undefined when it is not there. */
  redrive(id: string): Promise<QueueEntry | undefined>;
}

const readEntry = async (path: string): Promise<QueueEntry | undefined> => {
  let text: string;
  try {
    text = await readFile(path, 'utf8');
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
    throw error;
  }
  let raw: unknown;
  try {
    raw = JSON.parse(text);
  } catch {
    throw new PermanentError('queue_entry_corrupt', `${path} is not JSON; inspect it, then fix or delete it`);
  }
  const parsed = QueueEntrySchema.safeParse(raw);
  if (!parsed.success) {
    throw new PermanentError(
      'queue_entry_corrupt',
      `${path} is not a queue entry (${parsed.error.issues[0]?.message ?? 'invalid'}); inspect it, then fix or delete it`,
    );
  }
  return parsed.data;
};

const listDir = async (dir: string): Promise<{ entries: QueueEntry[]; unreadable: string[] }> => {
  let names: string[];
  try {
    names = await readdir(dir);
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') return { entries: [], unreadable: [] };
    throw error;
  }
  const entries: QueueEntry[] = [];
  const unreadable: string[] = [];
  for (const name of names.sort()) {
    if (name.startsWith('.') || !name.endsWith('.json')) continue;
    try {
      const entry = await readEntry(join(dir, name));
      if (entry) entries.push(entry);
    } catch {
      unreadable.push(join(dir, name));
    }
  }
  entries.sort((a, b) => a.receivedAt.localeCompare(b.receivedAt) || a.id.localeCompare(b.id));
  return { entries, unreadable };
};

export const openLocalQueue = (dataDir: string): LocalQueue => {
  const paths = localPaths(dataDir);
  const queueDir = paths.queue;
  const dlqDir = paths.dlq;
  const queuePath = (id: string): string => join(queueDir, `${checkedQueueId(id)}.json`);
  const dlqPath = (id: string): string => join(dlqDir, `${checkedQueueId(id)}.json`);

  return {
    queueDir,
    dlqDir,

    async put(input) {
      const entry = QueueEntrySchema.parse(input);
      await mkdir(queueDir, { recursive: true });
      await writeFileDurably(queuePath(entry.id), `${JSON.stringify(entry, null, 2)}\n`);
      return entry;
    },

    get: (id) => readEntry(queuePath(id)),

    list: () => listDir(queueDir),

    async remove(id) {
      await rm(queuePath(id), { force: true });
    },

    async deadLetter(entry, error, at) {
      const dead: QueueEntry = {
        ...entry,
        failedAt: at.toISOString(),
        lastError: { ...error, at: at.toISOString() },
      };
      await mkdir(dlqDir, { recursive: true });
      // Written to dlq/ before it leaves queue/: a crash in between leaves it in both, and the
      // ledger makes the second run a no-op; the other order could lose it.
      await writeFileDurably(dlqPath(entry.id), `${JSON.stringify(dead, null, 2)}\n`);
      await rm(queuePath(entry.id), { force: true });
      return dead;
    },

    listDead: () => listDir(dlqDir),

    async redrive(id) {
      const dead = await readEntry(dlqPath(id));
      if (!dead) return undefined;
      const { failedAt: _failedAt, ...rest } = dead;
      const entry: QueueEntry = { ...rest, attempts: 0, redriven: (dead.redriven ?? 0) + 1 };
      await mkdir(queueDir, { recursive: true });
      await writeFileDurably(queuePath(id), `${JSON.stringify(entry, null, 2)}\n`);
      await rm(dlqPath(id), { force: true });
      return entry;
    },
  };
};
