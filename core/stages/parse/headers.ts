import { isUtf8 } from 'node:buffer';
import addressparser from 'nodemailer/lib/addressparser';
import { isAddrSpec } from '../../address.ts';
import type { Mailbox } from '../../model.ts';
import { decodeBinaryString, needsDecoding } from './charset.ts';
import { decodeEncodedWords } from './encoded-words.ts';

/**
 * Header fields of the top-level message. mailsplit hands each logical header line over as a
 * binary string (one char per byte, folding kept). Raw 8-bit bytes are only valid as UTF-8
 * (RFC 6532); anything else is decoded with the mail's charset as a hint, or windows-1252, and
 * reported in `warnings` so rules can mention it.
 */

/** One header line as mailsplit gives it: lowercased key and the whole raw line. */
export interface RawHeaderLine {
  key: string;
  line: string;
}

/** How raw 8-bit header bytes are read: the mail's charset, and whether its body was double-encoded. */
export interface HeaderDecodeHint {
  charset: string | undefined;
  repairDoubleEncoding: boolean;
}

/** RFC 5322 §2.2 field name: printable US-ASCII except `:`. */
const FIELD_NAME = /^[\x21-\x39\x3b-\x7e]+$/;

/** The raw value of a header line: after the first `:`, unfolded (RFC 5322 §2.2.3) and trimmed. */
export const rawValue = (line: string): string => {
  const colon = line.indexOf(':');
  return (colon < 0 ? '' : line.slice(colon + 1)).replace(/\r?\n(?=[ \t])/g, '').trim();
};

/** The field name as written, or undefined when the line is not a `name: value` field. */
export const fieldName = (line: string): string | undefined => {
  const colon = line.indexOf(':');
  if (colon <= 0) return undefined;
  const name = line.slice(0, colon).replace(/[ \t]+$/, '');
  return FIELD_NAME.test(name) ? name.toLowerCase() : undefined;
};

/** Decodes a raw (binary string) header value to text, recording a warning when bytes were guessed. */
export const decodeRawHeader = (
  name: string,
  value: string,
  hint: HeaderDecodeHint,
  warnings: string[],
): string => {
  if (!needsDecoding(value)) return value;
  const bytes = Buffer.from(value, 'latin1');
  const utf8 = isUtf8(bytes);
  const decoded = decodeBinaryString(value, hint.charset, {
    repairDoubleEncoding: hint.repairDoubleEncoding,
  });
  if (decoded.repaired) {
    warnings.push(`header ${name}: raw 8-bit text was double-encoded; repaired as ${decoded.used}`);
  } else if (!utf8 && !value.includes('\x1b')) {
    warnings.push(`header ${name}: raw 8-bit bytes are not UTF-8 (RFC 6532); decoded as ${decoded.used}`);
  }
  return decoded.text;
};

/** Every header, lowercased name -> values in order. A Map, so `__proto__` is just a key. */
export const buildHeaderMap = (
  lines: readonly RawHeaderLine[],
  hint: HeaderDecodeHint,
  warnings: string[],
): Map<string, string[]> => {
  const headers = new Map<string, string[]>();
  for (const { line } of lines) {
    const name = fieldName(line);
    if (name === undefined) {
      warnings.push(`malformed header line ignored: ${JSON.stringify(line.slice(0, 60))}`);
      continue;
    }
    const value = decodeRawHeader(name, rawValue(line), hint, warnings);
    const values = headers.get(name);
    if (values === undefined) headers.set(name, [value]);
    else values.push(value);
  }
  return headers;
};

/** Decodes an unstructured header (Subject): folding white space collapsed, encoded words resolved. */
export const decodeUnstructured = (name: string, value: string, warnings: string[]): string => {
  const words = decodeEncodedWords(value.replace(/[ \t]+/g, ' ').trim());
  warnings.push(...words.notes.map((note) => `header ${name}: ${note}`));
  return words.text;
};

/** RFC 2047 §5: an encoded word is never an address; one that decodes to a plain addr-spec is accepted. */
const decodeAddress = (address: string): string => {
  const trimmed = address.trim();
  if (!trimmed.includes('=?')) return trimmed;
  const decoded = decodeEncodedWords(trimmed).text;
  return isAddrSpec(decoded) ? decoded : '';
};

/** Parses an address list header (already decoded from raw bytes) into mailboxes; groups are flattened. */
export const parseMailboxes = (name: string, value: string, warnings: string[]): Mailbox[] => {
  const mailboxes: Mailbox[] = [];
  for (const entry of addressparser(value, { flatten: true })) {
    const words = decodeEncodedWords(entry.name.trim());
    warnings.push(...words.notes.map((note) => `header ${name}: ${note}`));
    const address = decodeAddress(entry.address);
    const display = words.text.replace(/\s+/g, ' ').trim();
    if (address === '' && display === '') continue;
    mailboxes.push({ name: display, address });
  }
  return mailboxes;
};

/**
 * Message ids of In-Reply-To / References: every `<...>` id, and bare tokens holding an `@`
 * (split on white space and commas). Comments and quoted strings (`Your message of "..."`) are
 * skipped. Angle brackets removed; duplicates dropped, order kept. One linear scan.
 */
export const parseMessageIds = (value: string): string[] => {
  const ids: string[] = [];
  const seen = new Set<string>();
  const add = (id: string): void => {
    const clean = id.replace(/\s+/g, '');
    if (clean === '' || seen.has(clean)) return;
    seen.add(clean);
    ids.push(clean);
  };
  const length = value.length;
  let i = 0;
  while (i < length) {
    const char = value.charAt(i);
    if (char === '<') {
      const end = value.indexOf('>', i + 1);
      if (end < 0) {
        add(value.slice(i + 1));
        break;
      }
      add(value.slice(i + 1, end));
      i = end + 1;
    } else if (char === '(') {
      let depth = 0;
      while (i < length) {
        const inner = value.charAt(i);
        if (inner === '\\') i++;
        else if (inner === '(') depth++;
        else if (inner === ')' && --depth === 0) break;
        i++;
      }
      i++;
    } else if (char === '"') {
      i++;
      while (i < length && value.charAt(i) !== '"') i += value.charAt(i) === '\\' ? 2 : 1;
      i++;
    } else if (/[\s,]/.test(char)) {
      i++;
    } else {
      const start = i;
      while (i < length && !/[\s,<("]/.test(value.charAt(i))) i++;
      const token = value.slice(start, i);
      if (token.includes('@')) add(token.replace(/^<|>$/g, ''));
    }
  }
  return ids;
};

/** RFC 5322 date; comments removed. Undefined when it cannot be read. */
export const parseDate = (value: string): Date | undefined => {
  const cleaned = value
    .replace(/\([^()]*\)/g, ' ')
    .replace(/\s+/g, ' ')
    .trim();
  if (cleaned === '') return undefined;
  const direct = new Date(cleaned);
  if (!Number.isNaN(direct.getTime())) return direct;
  // A broken zone (`H0500`, `MEST`) should not lose the date: read it without the zone, as UTC.
  const withoutZone = cleaned.replace(/\s+\S+$/, '');
  const fallback = new Date(`${withoutZone} GMT`);
  return Number.isNaN(fallback.getTime()) ? undefined : fallback;
};
