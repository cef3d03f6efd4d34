import { readFileSync } from 'node:fs';
import { createMemoryObjectStore, type MemoryObjectStore } from '../../adapters/local/memory-object-store.ts';
import { ConfigSchema, type DeskConfig } from '../../core/config/schema.ts';
import type { OutboundMailer } from '../../core/outbound/notify.ts';
import type {
  Clock,
  DeskSecret,
  Forge,
  ForgeIssue,
  ForgeNote,
  ForgeProjectRef,
  Logger,
  SecretSource,
} from '../../core/ports.ts';
import type { TicketRecord } from '../../core/state/tickets.ts';
import { deskState } from '../support/desk-state.ts';

/** Factories and fakes for the outbound tests: fixtures in, recorded calls out. */

const fixture = (name: string): URL => new URL(`../fixtures/corpus/webhooks/gitlab/${name}`, import.meta.url);

/** The corpus Note Hook payload (GitLab docs, "Comment on an issue"), parsed fresh each time. */
export const noteHookFixture = (): Record<string, unknown> =>
  JSON.parse(readFileSync(fixture('note-hook-issue-comment.json'), 'utf8')) as Record<string, unknown>;

export const issueHookFixture = (): Record<string, unknown> =>
  JSON.parse(readFileSync(fixture('issue-hook.json'), 'utf8')) as Record<string, unknown>;

export const WEBHOOK_TOKEN = 'whk-0123456789abcdef0123456789abcdef';
export const REPLY_KEY = 'reply-key-0123456789abcdef0123456789';

export const deskConfig = (
  overrides: Record<string, unknown> = {},
  project: Record<string, unknown> = {},
): DeskConfig =>
  ConfigSchema.parse({
    domain: 'desk.example.com',
    forge: { kind: 'gitlab', url: 'https://gitlab.example.com' },
    bot_username: 'postdesk-bot',
    public_url: 'https://hooks.desk.example.com',
    projects: [{ path: 'gitlab-org/gitlab-test', key: 'test', outgoing_name: 'Acme Support', ...project }],
    ...overrides,
  });

/** A note hook for `gitlab-org/gitlab-test#<iid>`, adapted from the corpus payload. */
export const noteHook = (
  changes: {
    iid?: number;
    note?: string;
    noteId?: number;
    internal?: boolean;
    system?: boolean;
    username?: string;
    email?: string;
    name?: string;
    action?: string;
    eventType?: string;
    issueConfidential?: boolean;
  } = {},
): Record<string, unknown> => {
  const hook = noteHookFixture();
  const attributes = hook['object_attributes'] as Record<string, unknown>;
  const issue = hook['issue'] as Record<string, unknown>;
  const user = hook['user'] as Record<string, unknown>;
  if (changes.iid !== undefined) issue['iid'] = changes.iid;
  if (changes.note !== undefined) attributes['note'] = changes.note;
  if (changes.noteId !== undefined) attributes['id'] = changes.noteId;
  if (changes.internal !== undefined) attributes['internal'] = changes.internal;
  if (changes.system !== undefined) attributes['system'] = changes.system;
  if (changes.action !== undefined) attributes['action'] = changes.action;
  if (changes.username !== undefined) user['username'] = changes.username;
  if (changes.email !== undefined) user['email'] = changes.email;
  if (changes.name !== undefined) user['name'] = changes.name;
  if (changes.eventType !== undefined) hook['event_type'] = changes.eventType;
  if (changes.issueConfidential !== undefined) issue['confidential'] = changes.issueConfidential;
  return hook;
};

/** A secret source with a cache: `set` changes the stored secret, seen only after `refresh` (a rotation). */
export const staticSecrets = (
  secret: DeskSecret = { webhook_token: WEBHOOK_TOKEN, reply_key: REPLY_KEY },
) => {
  let stored = secret;
  let cached = secret;
  const source: SecretSource & { set(next: DeskSecret): void; refreshes: number } = {
    refreshes: 0,
    async get() {
      return cached;
    },
    async refresh() {
      source.refreshes += 1;
      cached = stored;
      return cached;
    },
    set(next) {
      stored = next;
    },
  };
  return source;
};

export const fixedClock = (iso = '2026-03-02T10:00:00.000Z') => {
  let now = new Date(iso);
  const clock: Clock & { advance(ms: number): void } = {
    now: () => new Date(now),
    advance(ms) {
      now = new Date(now.getTime() + ms);
    },
  };
  return clock;
};

export interface LogLine {
  level: string;
  message: string;
  fields: Record<string, unknown> | undefined;
}

export const recordingLogger = () => {
  const lines: LogLine[] = [];
  const at =
    (level: string) =>
    (message: string, fields?: Record<string, unknown>): void => {
      lines.push({ level, message, fields });
    };
  const logger: Logger & { lines: LogLine[] } = {
    lines,
    debug: at('debug'),
    info: at('info'),
    warn: at('warn'),
    error: at('error'),
  };
  return logger;
};

/** A forge that records what it was asked: repository files from a map, notes kept per issue. */
export const fakeForge = (files: Record<string, string> = {}) => {
  const notes: { project: string; iid: number; body: string; internal: boolean }[] = [];
  const forge: Pick<Forge, 'readRepoFile' | 'addNote' | 'getIssue'> & {
    notes: typeof notes;
    reads: string[];
  } = {
    notes,
    reads: [],
    async readRepoFile(_project: ForgeProjectRef, path: string) {
      forge.reads.push(path);
      return files[path];
    },
    async addNote(project, iid, input): Promise<ForgeNote> {
      notes.push({ project: project.path, iid, ...input });
      return { id: notes.length, body: input.body, internal: input.internal };
    },
    async getIssue(project, iid): Promise<ForgeIssue | undefined> {
      return {
        iid,
        id: 1000 + iid,
        title: 'Fetched title',
        state: 'opened',
        webUrl: `https://gitlab.example.com/${project.path}/-/issues/${iid}`,
        confidential: true,
        labels: [],
        assignees: [],
      };
    },
  };
  return forge;
};

/** A mailer that keeps what it was given, answering SES-like ids. */
export const recordingMailer = () => {
  const sent: { from: string; to: string[]; raw: Buffer; messageId: string }[] = [];
  const mailer: OutboundMailer & { sent: typeof sent } = {
    sent,
    async sendRaw(input) {
      const messageId = `0102019c-${String(sent.length + 1).padStart(4, '0')}-000000`;
      sent.push({ ...input, messageId });
      return { messageId };
    },
    messageIdForms: (id) => [`${id}@eu-west-1.amazonses.com`, `${id}@email.amazonses.com`, id],
  };
  return mailer;
};

export const PROJECT = 'gitlab-org/gitlab-test';

/** Creates the ticket record of `PROJECT#iid` with the given participants (first is the requester). */
export const seedTicket = async (
  store: MemoryObjectStore,
  iid: number,
  participants: readonly { address: string; name?: string; cc?: boolean }[],
  options: { messageId?: string; clock?: Clock } = {},
): Promise<TicketRecord> => {
  const { tickets } = deskState(store, options.clock);
  const [first, ...rest] = participants;
  const change = await tickets.recordInbound({
    projectPath: PROJECT,
    iid,
    mailId: `mail-${iid}`,
    messageId: options.messageId ?? `original-${iid}@mail.customer.example`,
    sender: first ? { address: first.address, name: first.name ?? '' } : undefined,
    cc: rest.map((p) => ({ address: p.address, name: p.name ?? '' })),
    participantsFromCc: true,
    isDeskAddress: (address) => address.endsWith('@desk.example.com'),
  });
  return change.record;
};

export const memoryStore = (): MemoryObjectStore => createMemoryObjectStore();
