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
      date: parsed.date ?? info.mtime,
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
