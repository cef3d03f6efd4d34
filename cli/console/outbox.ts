import { readdir, readFile, stat } from 'node:fs/promises';
import { join } from 'node:path';
import { simpleParser } from 'mailparser';

/**
 * The mail the desk sent, read back from `.postdesk/outbox/`: what the customer actually received,
 * for the console to show beside the notes. Parsed once per file (files are written whole and never
 * changed).
 */

export interface OutboxMail {
  file: string;
  messageId: string | undefined;
  to: string;
  subject: string;
  date: Date;
  text: string;
  replyTo: string;
}

const cache = new Map<string, OutboxMail>();

/**
 * When the desk sent it, to the millisecond: the outbox names each file after that moment
 * (`2026-12-02T14-51-07-535Z-<id>.eml`, adapters/local/outbox-mailer.ts). The Date header has only
 * seconds, too coarse to place an answer between two notes of the same second.
 */
const sentAt = (name: string): Date | undefined => {
  const match = /^(\d{4}-\d{2}-\d{2})T(\d{2})-(\d{2})-(\d{2})-(\d{3})Z-/.exec(name);
  if (!match) return undefined;
  const date = new Date(`${match[1]}T${match[2]}:${match[3]}:${match[4]}.${match[5]}Z`);
  return Number.isNaN(date.getTime()) ? undefined : date;
};

const parseOne = async (dir: string, name: string): Promise<OutboxMail | undefined> => {
  const file = join(dir, name);
  const known = cache.get(file);
  if (known) return known;
  try {
    const [raw, info] = await Promise.all([readFile(file), stat(file)]);
    const parsed = await simpleParser(raw, {
      skipHtmlToText: false,
      skipTextToHtml: true,
      skipImageLinks: true,
    });
    const addressText = (value: typeof parsed.to): string =>
      value === undefined ? '' : Array.isArray(value) ? value.map((one) => one.text).join(', ') : value.text;
    const mail: OutboxMail = {
      file,
      messageId: parsed.messageId?.replace(/^<|>$/g, ''),
      to: addressText(parsed.to),
      subject: parsed.subject ?? '',
      date: sentAt(name) ?? parsed.date ?? info.mtime,
      text: parsed.text ?? '',
      replyTo: addressText(parsed.replyTo),
    };
    cache.set(file, mail);
    return mail;
  } catch {
    return undefined;
  }
};

/** Every mail in the outbox, oldest first; an unreadable file is skipped. */
export const readOutbox = async (dir: string): Promise<OutboxMail[]> => {
  let names: string[];
  try {
    names = (await readdir(dir)).filter((name) => name.endsWith('.eml') && !name.startsWith('.'));
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') return [];
    throw error;
  }
  const mails = (await Promise.all(names.sort().map((name) => parseOne(dir, name)))).filter(
    (mail): mail is OutboxMail => mail !== undefined,
  );
  return mails.sort((a, b) => a.date.getTime() - b.date.getTime());
};
