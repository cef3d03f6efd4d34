import { randomUUID } from 'node:crypto';
import { createMemoryObjectStore } from '../../adapters/local/memory-object-store.ts';
import { ConfigSchema, type DeskConfig } from '../../core/config/schema.ts';
import type { OutboundMailer } from '../../core/outbound/notify.ts';
import { createNotifier } from '../../core/outbound/notify.ts';
import { createOnDelivered } from '../../core/outbound/on-delivered.ts';
import { createInlineNotifyQueue } from '../../core/outbound/queue.ts';
import { objectStoreState } from '../../core/state/index.ts';
import { createMemoryForge, type MemoryForge } from '../support/memory-forge.ts';
import { testSecretSource } from '../support/test-secret.ts';
import { createHarness, type Harness, type MovableClock, movableClock, recordingLogger } from './harness.ts';

/**
 * A whole desk for the loop tests: the inbound pipeline with its outbound hook (thank-you and
 * new-participant mail through the real notifier and composer), a memory forge, and a mailer that
 * behaves like SES: it replaces the Message-ID of what it sends and returns its own id.
 */

export interface SentMail {
  from: string;
  to: string[];
  /** The mail as the recipient gets it (SES's Message-ID in place of ours). */
  raw: Buffer;
  /** The id SES gave it, without brackets. */
  messageId: string;
}

export interface Desk {
  domain: string;
  config: DeskConfig;
  harness: Harness;
  forge: MemoryForge;
  clock: MovableClock;
  /** Every mail the desk sent, in order. */
  sent: SentMail[];
  /** The notifier, for note notifications (what the webhook would queue). */
  notify: ReturnType<typeof createNotifier>;
}

/** An SES-like mailer: Message-ID rewritten to `<id@email.amazonses.com>`, that id returned. */
export const sesLikeMailer = (sent: SentMail[]): OutboundMailer => ({
  async sendRaw({ from, to, raw }) {
    const id = `0100${randomUUID().replace(/-/g, '')}-000000`;
    const text = raw.toString('latin1');
    const rewritten = Buffer.from(
      text.replace(/^Message-ID:[^\r\n]*(\r\n[ \t][^\r\n]*)*/im, `Message-ID: <${id}@email.amazonses.com>`),
      'latin1',
    );
    sent.push({ from, to, raw: rewritten, messageId: id });
    return { messageId: id };
  },
  messageIdForms: (id) => [`${id}@email.amazonses.com`, id],
});

export const deskConfigFor = (
  domain: string,
  project: Record<string, unknown> = {},
  overrides: Record<string, unknown> = {},
): DeskConfig =>
  ConfigSchema.parse({
    domain,
    forge: { kind: 'gitlab', url: 'https://gitlab.example.com' },
    bot_username: 'postdesk-bot',
    projects: [{ path: 'acme/game', key: 'game', ...project }],
    ...overrides,
  });

export const createDesk = (
  options: { domain?: string; config?: DeskConfig; clock?: MovableClock } = {},
): Desk => {
  const domain = options.domain ?? 'desk.example.com';
  const config = options.config ?? deskConfigFor(domain);
  const clock = options.clock ?? movableClock();
  const forge = createMemoryForge();
  const store = createMemoryObjectStore();
  const sent: SentMail[] = [];
  const logger = recordingLogger();
  const secrets = testSecretSource();
  const state = objectStoreState(store, { clock });
  const notify = createNotifier({
    config,
    state,
    forge,
    mailer: sesLikeMailer(sent),
    secrets,
    clock,
    logger,
  });
  const queue = createInlineNotifyQueue(notify, logger);
  const onDelivered = createOnDelivered({ config, state, queue, clock, logger });
  const harness = createHarness({ config, forge, store, clock, secrets, onDelivered });
  return { domain, config, harness, forge, clock, sent, notify };
};

/** Removes every header named in `names` (case-insensitive) from a raw mail, folded lines included. */
export const stripHeaders = (raw: Buffer, names: readonly string[]): Buffer => {
  const text = raw.toString('latin1');
  const end = text.indexOf('\r\n\r\n');
  const head = end === -1 ? text : text.slice(0, end);
  const body = end === -1 ? '' : text.slice(end);
  const lower = new Set(names.map((name) => name.toLowerCase()));
  const kept = head
    .split(/\r\n(?![ \t])/)
    .filter((line) => !lower.has(line.slice(0, line.indexOf(':')).trim().toLowerCase()));
  return Buffer.from(`${kept.join('\r\n')}${body}`, 'latin1');
};

/** The value of the first header `name` in a raw mail (unfolded), or undefined. */
export const headerOf = (raw: Buffer, name: string): string | undefined => {
  const text = raw.toString('latin1');
  const end = text.indexOf('\r\n\r\n');
  const head = (end === -1 ? text : text.slice(0, end)).replace(/\r\n[ \t]+/g, ' ');
  const match = new RegExp(`^${name.replace(/[-]/g, '\\-')}:[ \\t]*(.*)$`, 'im').exec(head);
  return match?.[1];
};
