import { randomUUID } from 'node:crypto';
import { mkdir, rename, rm, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { errorMessage, TransientError } from '../../core/errors.ts';
import type { OutboundMailer } from '../../core/outbound/notify.ts';
import type { Clock } from '../../core/ports.ts';
import { systemClock } from '../../core/ports.ts';

/**
 * The Mailer port in local mode: every mail lands in `<dataDir>/outbox/<timestamp>-<id>.eml`
 * (open it with any mail client) instead of being sent. The "transport id" is the mail's own
 * Message-ID, as nothing rewrites it locally; so a reply to an outbox mail threads exactly as a reply
 * to an SES mail does in AWS.
 */

export interface OutboxMailerOptions {
  /** The local data folder (`.postdesk`). */
  dataDir: string;
  clock?: Clock | undefined;
}

/** The Message-ID of a raw mail, without angle brackets; undefined when it has none. */
const messageIdOf = (raw: Buffer): string | undefined => {
  const end = raw.indexOf('\r\n\r\n');
  const head = raw.subarray(0, end === -1 ? Math.min(raw.length, 64 * 1024) : end).toString('latin1');
  const match = /^message-id:\s*(?:\r\n[ \t]+)?<([^>\r\n]+)>/im.exec(head);
  return match?.[1];
};

export class OutboxMailer implements OutboundMailer {
  readonly #dir: string;
  readonly #clock: Clock;

  constructor(options: OutboxMailerOptions) {
    this.#dir = join(options.dataDir, 'outbox');
    this.#clock = options.clock ?? systemClock;
  }

  /** The folder the `.eml` files are written to. */
  get directory(): string {
    return this.#dir;
  }

  async sendRaw(input: { from: string; to: string[]; raw: Buffer }): Promise<{ messageId: string }> {
    const messageId = messageIdOf(input.raw) ?? `${randomUUID()}@outbox.local`;
    const stamp = this.#clock.now().toISOString().replace(/[:.]/g, '-');
    const id = randomUUID().slice(0, 8);
    const path = join(this.#dir, `${stamp}-${id}.eml`);
    // Written whole, then renamed: a reader polling the folder never sees half a mail.
    const temporary = join(this.#dir, `.${stamp}-${id}.eml.tmp`);
    try {
      await mkdir(this.#dir, { recursive: true });
      await writeFile(temporary, input.raw);
      await rename(temporary, path);
    } catch (error) {
      await rm(temporary, { force: true }).catch(() => undefined);
      // As SES throttling is: a TransientError, so the mail that triggered it is retried and the
      // thank-you is sent then (the sent-mail ledger keeps it from going twice), never dropped.
      throw new TransientError(
        'outbox_unavailable',
        `Could not write the mail to ${this.#dir}: ${errorMessage(error)}. Check that the outbox ` +
          'folder is writable by this user and the disk has room; the mail is retried.',
        { cause: error },
      );
    }
    return { messageId };
  }

  messageIdForms(messageId: string): string[] {
    return [messageId];
  }
}
