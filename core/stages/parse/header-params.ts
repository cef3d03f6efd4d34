import { decodeBinaryString, decodeBytes } from './charset.ts';
import { decodeEncodedWords } from './encoded-words.ts';

/**
 * Structured header values (`Content-Type`, `Content-Disposition`): a token and `;`-separated
 * parameters, with RFC 2231 extended values (`name*=charset'lang'%XX`) and continuations
 * (`name*0*=`, `name*1=`). Works on the raw header as a binary string (one char per byte), so
 * 8-bit bytes reach the charset rules untouched. One pass over the value, no backtracking regex.
 */

export interface StructuredHeader {
  /** The token before the first `;`, lowercased and trimmed (`multipart/mixed`, `attachment`). */
  value: string;
  /** Decoded parameter values by lowercased name. Null prototype: names are untrusted. */
  params: Record<string, string>;
  /** Decoding problems, for warnings. */
  notes: string[];
}

interface RawParam {
  name: string;
  value: string;
}

/** Splits `token; a=1; b="x;y"` into the token and raw parameters: one linear scan, quotes honoured. */
const splitParams = (input: string): { value: string; params: RawParam[] } => {
  const params: RawParam[] = [];
  const first = input.indexOf(';');
  if (first < 0) return { value: input.trim(), params };
  const value = input.slice(0, first).trim();
  const length = input.length;
  let i = first + 1;
  while (i < length) {
    const nameStart = i;
    while (i < length && input.charAt(i) !== '=' && input.charAt(i) !== ';') i++;
    if (i >= length) break;
    if (input.charAt(i) === ';') {
      i++;
      continue;
    }
    const name = input.slice(nameStart, i).trim().toLowerCase();
    i++; // past '='
    while (i < length && /[ \t\r\n]/.test(input.charAt(i))) i++;
    let raw = '';
    if (input.charAt(i) === '"') {
      i++;
      const parts: string[] = [];
      while (i < length && input.charAt(i) !== '"') {
        if (input.charAt(i) === '\\' && i + 1 < length) i++;
        parts.push(input.charAt(i));
        i++;
      }
      raw = parts.join('');
      while (i < length && input.charAt(i) !== ';') i++;
    } else {
      const valueStart = i;
      while (i < length && input.charAt(i) !== ';') i++;
      raw = input.slice(valueStart, i).trim();
    }
    i++; // past ';'
    if (name !== '') params.push({ name, value: raw });
  }
  return { value, params };
};

const percentDecode = (value: string): Buffer => {
  const bytes: number[] = [];
  for (let i = 0; i < value.length; i++) {
    const char = value.charAt(i);
    if (char === '%' && /^[0-9A-Fa-f]{2}$/.test(value.slice(i + 1, i + 3))) {
      bytes.push(Number.parseInt(value.slice(i + 1, i + 3), 16));
      i += 2;
    } else {
      bytes.push(value.charCodeAt(i) & 0xff);
    }
  }
  return Buffer.from(bytes);
};

interface Section {
  index: number;
  encoded: boolean;
  value: string;
}

/**
 * Parses a structured header. `hint` is the charset to try for raw 8-bit bytes in plain
 * parameters (the part's own charset when there is one).
 */
export const parseStructuredHeader = (raw: string, hint?: string): StructuredHeader => {
  const { value, params: rawParams } = splitParams(raw.replace(/\r?\n[ \t]/g, ' '));
  const params: Record<string, string> = Object.create(null);
  const notes: string[] = [];
  const extended = new Map<string, Section[]>();

  for (const param of rawParams) {
    const match = /^([^*]+)\*(?:(\d{1,3})(\*)?|\*?)$/.exec(param.name);
    const base = match?.[1];
    if (match === null || base === undefined) {
      if (param.name in params) continue;
      const decoded = decodeBinaryString(param.value, hint);
      if (decoded.note !== undefined) notes.push(`parameter ${param.name}: ${decoded.note}`);
      const words = decodeEncodedWords(decoded.text);
      notes.push(...words.notes.map((note) => `parameter ${param.name}: ${note}`));
      params[param.name] = words.text;
      continue;
    }
    const sections = extended.get(base) ?? [];
    const isSingle = match[2] === undefined;
    sections.push({
      index: isSingle ? 0 : Number(match[2]),
      encoded: isSingle ? true : match[3] === '*',
      value: param.value,
    });
    extended.set(base, sections);
  }

  // RFC 2231 §4: the charset and language prefix the first encoded section only.
  for (const [name, sections] of extended) {
    sections.sort((a, b) => a.index - b.index);
    let charset: string | undefined;
    const chunks: Buffer[] = [];
    sections.forEach((section, position) => {
      let text = section.value;
      if (section.encoded && position === 0) {
        const parts = /^([^']*)'[^']*'(.*)$/s.exec(text);
        if (parts !== null) {
          charset = parts[1] === '' ? undefined : parts[1];
          text = parts[2] ?? '';
        }
      }
      chunks.push(section.encoded ? percentDecode(text) : Buffer.from(text, 'latin1'));
    });
    const decoded = decodeBytes(Buffer.concat(chunks), charset ?? hint);
    if (decoded.note !== undefined) notes.push(`parameter ${name}*: ${decoded.note}`);
    params[name] = decoded.text;
  }
  return { value: value.toLowerCase(), params, notes };
};
