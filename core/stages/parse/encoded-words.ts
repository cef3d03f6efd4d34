import { decodeBytes } from './charset.ts';

/**
 * RFC 2047 encoded words (`=?charset?B|Q?text?=`). Adjacent words (only white space between
 * them, RFC 2047 §6.2) are joined before decoding when they share a charset, because encoders
 * split multi-byte characters and ISO-2022-JP escape sequences across words. The payload may not
 * contain `?`, so every match is bounded by the next `?` and scanning stays linear.
 */
const ENCODED_WORD = /=\?([^?\s]+)\?([bBqQ])\?([^?]*)\?=/g;

const decodeQ = (payload: string): Buffer => {
  const bytes: number[] = [];
  for (let i = 0; i < payload.length; i++) {
    const char = payload.charAt(i);
    if (char === '_') {
      bytes.push(0x20);
    } else if (char === '=' && /^[0-9A-Fa-f]{2}$/.test(payload.slice(i + 1, i + 3))) {
      bytes.push(Number.parseInt(payload.slice(i + 1, i + 3), 16));
      i += 2;
    } else if (char.charCodeAt(0) < 0x80) {
      bytes.push(char.charCodeAt(0));
    } else {
      bytes.push(...Buffer.from(char, 'utf8'));
    }
  }
  return Buffer.from(bytes);
};

const payloadBytes = (encoding: string, payload: string): Buffer =>
  encoding.toUpperCase() === 'B' ? Buffer.from(payload.replace(/\s+/g, ''), 'base64') : decodeQ(payload);

const sameCharset = (a: string, b: string): boolean => a.trim().toLowerCase() === b.trim().toLowerCase();

export interface DecodedWords {
  text: string;
  /** Problems met while decoding the words' bytes, for warnings. */
  notes: string[];
}

/** Decodes every encoded word in a header value; text outside the words is kept as it is. */
export const decodeEncodedWords = (value: string): DecodedWords => {
  if (!value.includes('=?')) return { text: value, notes: [] };
  const notes: string[] = [];
  let out = '';
  let last = 0;
  let pending: { charset: string; chunks: Buffer[] } | undefined;
  const flush = (): void => {
    if (pending === undefined) return;
    const decoded = decodeBytes(Buffer.concat(pending.chunks), pending.charset);
    if (decoded.note !== undefined) notes.push(`encoded word ${pending.charset}: ${decoded.note}`);
    out += decoded.text;
    pending = undefined;
  };
  for (const match of value.matchAll(ENCODED_WORD)) {
    const [word, charset = '', encoding = 'Q', payload = ''] = match;
    const start = match.index;
    const between = value.slice(last, start);
    const adjacent = pending !== undefined && /^[ \t\r\n]*$/.test(between);
    if (!adjacent) {
      flush();
      out += between;
    }
    const bytes = payloadBytes(encoding, payload);
    if (pending !== undefined && sameCharset(pending.charset, charset)) {
      pending.chunks.push(bytes);
    } else {
      flush();
      pending = { charset, chunks: [bytes] };
    }
    last = start + word.length;
  }
  flush();
  out += value.slice(last);
  return { text: out, notes };
};
