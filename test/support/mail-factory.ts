import { readFileSync } from 'node:fs';
import type { Mailbox, ParsedMail } from '../../core/model.ts';

/**
 * Builds `ParsedMail` values for stage tests without the parse stage: from a header list, or from
 * the header block of an .eml file. Deliberately simple (no MIME walk, no attachments); tests that
 * need real parsing run mail through `parseMail` instead.
 */

export type HeaderList = ReadonlyArray<readonly [name: string, value: string]>;

/**
 * The raw `From` header values for mailboxes built by hand: what a stage reads the sender identity
 * from (core/stages/authenticate/sender-identity.ts). One header holding them all; none for `[]`.
 */
export const fromHeaders = (from: readonly Mailbox[]): Map<string, string[]> => {
  const value = from
    .map(({ name, address }) =>
      name === '' ? address : `"${name.replace(/[\\"]/g, (char) => `\\${char}`)}" <${address}>`,
    )
    .join(', ');
  return new Map(value === '' ? [] : [['from', [value]]]);
};

/** Splits an address list on commas outside quotes, comments and angle brackets. */
const splitAddressList = (value: string): string[] => {
  const parts: string[] = [];
  let current = '';
  let quoted = false;
  let depth = 0;
  let angle = false;
  for (const char of value) {
    if (char === '"' && depth === 0) quoted = !quoted;
    else if (!quoted && char === '(') depth += 1;
    else if (!quoted && char === ')' && depth > 0) depth -= 1;
    else if (!quoted && depth === 0 && char === '<') angle = true;
    else if (!quoted && depth === 0 && char === '>') angle = false;
    if (char === ',' && !quoted && depth === 0 && !angle) {
      parts.push(current);
      current = '';
    } else current += char;
  }
  parts.push(current);
  return parts.map((part) => part.trim()).filter((part) => part !== '');
};

/** `"Name" <a@b>`, `Name <a@b>`, `a@b (Name)` or `a@b` -> a mailbox. */
export const parseMailbox = (text: string): Mailbox => {
  const angle = /<([^<>]*)>/.exec(text);
  if (angle) {
    const name = text
      .slice(0, angle.index)
      .trim()
      .replace(/^"(.*)"$/, '$1');
    return { name: decodeWords(name), address: (angle[1] ?? '').trim() };
  }
  const comment = /\(([^()]*)\)/.exec(text);
  return { name: comment?.[1] ?? '', address: text.replace(/\([^()]*\)/g, '').trim() };
};

export const parseAddressList = (values: readonly string[]): Mailbox[] =>
  values.flatMap((value) => splitAddressList(value).map(parseMailbox));

/** Enough RFC 2047 for test subjects: B and Q words in any charset Node's TextDecoder knows. */
export const decodeWords = (value: string): string =>
  value
    .replace(/(=\?[^?]+\?[bq]\?[^?]*\?=)\s+(?==\?)/gi, '$1')
    .replace(
      /=\?([^?*]+)(?:\*[^?]*)?\?([bq])\?([^?]*)\?=/gi,
      (_word, charset: string, encoding: string, text: string) => {
        const bytes =
          encoding.toLowerCase() === 'b'
            ? Buffer.from(text, 'base64')
            : Buffer.from(
                text
                  .replace(/_/g, ' ')
                  .replace(/=([0-9a-f]{2})/gi, (_hex, code: string) =>
                    String.fromCharCode(Number.parseInt(code, 16)),
                  ),
                'latin1',
              );
        return new TextDecoder(charset).decode(bytes);
      },
    );

const messageIds = (values: readonly string[]): string[] =>
  values
    .flatMap((value) => [...value.matchAll(/<([^<>]+)>/g)].map((match) => match[1] ?? ''))
    .filter(Boolean);

const parseContentType = (
  value: string | undefined,
): Pick<ParsedMail, 'contentType' | 'contentTypeParams'> => {
  if (value === undefined) return { contentType: 'text/plain', contentTypeParams: {} };
  const [type = '', ...rest] = value.split(';');
  const params: Record<string, string> = {};
  for (const param of rest) {
    const eq = param.indexOf('=');
    if (eq === -1) continue;
    params[param.slice(0, eq).trim().toLowerCase()] = param
      .slice(eq + 1)
      .trim()
      .replace(/^"(.*)"$/, '$1');
  }
  return { contentType: type.trim().toLowerCase(), contentTypeParams: params };
};

/** A ParsedMail from a header list (names in any case); `overrides` replace whole fields. */
export const buildMail = (headers: HeaderList, overrides: Partial<ParsedMail> = {}): ParsedMail => {
  const map = new Map<string, string[]>();
  for (const [name, value] of headers) {
    const key = name.toLowerCase();
    map.set(key, [...(map.get(key) ?? []), value]);
  }
  const all = (name: string): string[] => map.get(name) ?? [];
  const first = (name: string): string | undefined => all(name)[0];
  const subject = first('subject');
  const date = first('date');
  const messageId = messageIds(all('message-id'))[0];
  return {
    headers: map,
    from: parseAddressList(all('from')),
    replyTo: parseAddressList(all('reply-to')),
    sender: parseAddressList(all('sender'))[0],
    to: parseAddressList(all('to')),
    cc: parseAddressList(all('cc')),
    subject: subject === undefined ? undefined : decodeWords(subject),
    messageId,
    inReplyTo: messageIds(all('in-reply-to')),
    references: messageIds(all('references')),
    date: date === undefined ? undefined : new Date(date),
    ...parseContentType(first('content-type')),
    text: undefined,
    html: undefined,
    attachments: [],
    size: 0,
    warnings: [],
    ...overrides,
  };
};

/** Splits the header block of a raw message into unfolded `[name, value]` pairs. */
export const headerList = (raw: string): Array<[string, string]> => {
  const end = /\r?\n\r?\n/.exec(raw);
  const block = end ? raw.slice(0, end.index) : raw;
  const list: Array<[string, string]> = [];
  for (const line of block.split(/\r?\n(?![ \t])/)) {
    const colon = line.indexOf(':');
    if (colon <= 0) continue;
    list.push([
      line.slice(0, colon).trim(),
      line
        .slice(colon + 1)
        .replace(/\r?\n[ \t]+/g, ' ')
        .trim(),
    ]);
  }
  return list;
};

/** A ParsedMail from a raw message's headers; the body becomes `text` unparsed. */
export const mailFromEml = (raw: string | Buffer): ParsedMail => {
  const text = typeof raw === 'string' ? raw : raw.toString('latin1');
  const end = /\r?\n\r?\n/.exec(text);
  const utf8 = typeof raw === 'string' ? raw : raw.toString('utf8');
  return buildMail(headerList(utf8), {
    text: end ? text.slice(end.index + end[0].length) : undefined,
    size: typeof raw === 'string' ? Buffer.byteLength(raw) : raw.length,
  });
};

/** Reads an .eml file (path relative to the repository root) into a ParsedMail. */
export const loadEml = (path: string): ParsedMail =>
  mailFromEml(readFileSync(new URL(`../../${path}`, import.meta.url)));
