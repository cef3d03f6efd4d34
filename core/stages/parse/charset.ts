import { isAscii, isUtf8 } from 'node:buffer';

/**
 * Charset decoding as real mail needs it. Labels are resolved through the WHATWG Encoding
 * Standard (Node's built-in `TextDecoder`, full ICU): it already maps the names mail uses
 * (`ks_c_5601-1987` -> EUC-KR/CP949, `gb2312` -> GBK, `iso-8859-1`/`us-ascii` -> windows-1252,
 * `windows-31j` -> Shift_JIS) and its ISO-2022-JP and Shift_JIS tables include the NEC/IBM
 * extensions Japanese mail is full of (①, ㈱). UTF-7 is not in the standard and is decoded here.
 *
 * Labels lie. Bytes win over the label in these documented cases (docs/PARSER.md lists them all):
 * - the bytes are valid UTF-8 with at least one multi-byte sequence: decoded as UTF-8, whatever
 *   the label (us-ascii, iso-8859-1, X-UNKNOWN, big5...). Legacy text in any other charset is
 *   valid UTF-8 only by accident, and then only for a character or two;
 * - that UTF-8 text holds only U+0080..U+00FF and the label is a CJK multi-byte charset: the
 *   text was double-encoded (Big5 bytes read as Latin-1 and saved as UTF-8), so the Latin-1
 *   bytes are decoded with the label, kept only when that decodes cleanly to CJK text;
 * - a part without a charset (or labelled ASCII) holding ISO-2022-JP escape sequences is
 *   ISO-2022-JP (Zammad #6144).
 */

export type CharsetKind =
  /** UTF-8 and its aliases. */
  | 'utf-8'
  /** No label, ASCII, Latin-1/windows-1252, or an unknown name: bytes decide. */
  | 'weak'
  | 'utf-7'
  | 'utf-16'
  /** Stateful 7-bit Japanese. */
  | 'iso-2022-jp'
  /** Shift_JIS, EUC-JP, EUC-KR, GBK, GB18030, Big5. */
  | 'multibyte'
  /** Any other single-byte charset: ISO-8859-x, windows-125x, KOI8-R/U, ... */
  | 'single-byte';

export interface ResolvedCharset {
  /** The label as written, lowercased, or undefined when absent. */
  declared: string | undefined;
  /** WHATWG encoding name used to decode (`windows-1252` for weak labels), or `utf-7`. */
  encoding: string;
  kind: CharsetKind;
  /** False when the label is not a charset anyone knows (`X-UNKNOWN`, `NONE`, typos). */
  known: boolean;
}

export interface DecodedText {
  text: string;
  /** The encoding the bytes were decoded with (`utf-8`, `windows-1252`, `iso-2022-jp`, ...). */
  used: string;
  /** Why the bytes were not decoded as labelled, or what could not be decoded; for warnings. */
  note: string | undefined;
  /** True when double-encoded text was repaired (see the module comment). */
  repaired: boolean;
}

/** Names WHATWG does not know but mail software writes. Keys lowercased. A Map: labels are untrusted. */
const EXTRA_ALIASES: ReadonlyMap<string, string> = new Map([
  ['cp949', 'euc-kr'],
  ['uhc', 'euc-kr'],
  ['windows-949', 'euc-kr'],
  ['x-windows-949', 'euc-kr'],
  ['ks_c_5601', 'euc-kr'],
  ['ks_c_5601-1989', 'euc-kr'],
  ['cp932', 'shift_jis'],
  ['x-ms-cp932', 'shift_jis'],
  ['shift-jisx0213', 'shift_jis'],
  ['cp936', 'gbk'],
  ['euc-cn', 'gbk'],
  ['x-euc-cn', 'gbk'],
  ['cp950', 'big5'],
  ['x-x-big5', 'big5'],
  ['iso-2022-jp-1', 'iso-2022-jp'],
  ['iso-2022-jp-2', 'iso-2022-jp'],
  ['iso-2022-jp-3', 'iso-2022-jp'],
  ['jis', 'iso-2022-jp'],
  ['x-euc-jp', 'euc-jp'],
  ['eucjp', 'euc-jp'],
  ['euckr', 'euc-kr'],
  ['utf-16-le', 'utf-16le'],
  ['utf-16-be', 'utf-16be'],
  ['ucs-2le', 'utf-16le'],
  ['ucs-2be', 'utf-16be'],
  ['utf-8-sig', 'utf-8'],
]);

const UTF7_LABELS = new Set(['utf-7', 'utf7', 'unicode-1-1-utf-7', 'csunicode11utf7', 'x-utf-7']);
const MULTIBYTE = new Set(['shift_jis', 'euc-jp', 'euc-kr', 'gbk', 'gb18030', 'big5']);

const normaliseLabel = (label: string): string => {
  let value = label
    .trim()
    .toLowerCase()
    .replace(/^["']+|["']+$/g, '');
  // RFC 2231 §5 lets an encoded word carry a language: `=?utf-8*ja?B?...?=`.
  const star = value.indexOf('*');
  if (star >= 0) value = value.slice(0, star);
  return value
    .replace(/^win(?:dows)?[-_]?(125\d)$/, 'windows-$1')
    .replace(/^iso[-_]?8859[-_]?(\d+)$/, 'iso-8859-$1')
    .replace(/^latin[-_](\d)$/, 'latin$1');
};

const whatwgEncoding = (label: string): string | undefined => {
  try {
    return new TextDecoder(label).encoding;
  } catch {
    return undefined;
  }
};

/** Resolves a declared charset label (undefined when the part has none). */
export const resolveCharset = (label: string | undefined): ResolvedCharset => {
  if (label === undefined || label.trim() === '') {
    return { declared: undefined, encoding: 'windows-1252', kind: 'weak', known: true };
  }
  const declared = normaliseLabel(label);
  if (UTF7_LABELS.has(declared)) return { declared, encoding: 'utf-7', kind: 'utf-7', known: true };
  const encoding = whatwgEncoding(EXTRA_ALIASES.get(declared) ?? declared);
  if (encoding === undefined) return { declared, encoding: 'windows-1252', kind: 'weak', known: false };
  const kind: CharsetKind =
    encoding === 'utf-8'
      ? 'utf-8'
      : encoding === 'windows-1252'
        ? 'weak'
        : encoding === 'utf-16le' || encoding === 'utf-16be'
          ? 'utf-16'
          : encoding === 'iso-2022-jp'
            ? 'iso-2022-jp'
            : MULTIBYTE.has(encoding)
              ? 'multibyte'
              : 'single-byte';
  return { declared, encoding, kind, known: true };
};

/** ESC $ @, ESC $ B (JIS X 0208), ESC ( J, ESC ( I: the ISO-2022-JP designations. */
export const hasIso2022JpEscape = (bytes: Uint8Array): boolean => {
  for (let i = bytes.indexOf(0x1b); i >= 0 && i + 2 < bytes.length; i = bytes.indexOf(0x1b, i + 1)) {
    const a = bytes[i + 1];
    const b = bytes[i + 2];
    if ((a === 0x24 && (b === 0x40 || b === 0x42)) || (a === 0x28 && (b === 0x4a || b === 0x49))) return true;
  }
  return false;
};

/** Length of the ISO-2022 escape sequence at `i` (`ESC ( B`, `ESC $ B`, `ESC $ ( D`), or 0. */
const escapeLength = (bytes: Uint8Array, i: number): number => {
  if (bytes[i] !== 0x1b) return 0;
  const intermediate = bytes[i + 1];
  if (intermediate !== 0x24 && intermediate !== 0x28) return 0;
  return intermediate === 0x24 && (bytes[i + 2] === 0x28 || bytes[i + 2] === 0x29) ? 4 : 3;
};

/**
 * Drops an escape sequence that is directly followed by another one. The WHATWG decoder rejects
 * such redundant pairs, but joining adjacent encoded words (`...ESC ( B` + `ESC $ B...`) and some
 * encoders produce them, and they change nothing.
 */
const collapseRedundantEscapes = (bytes: Uint8Array): Uint8Array => {
  const drop: number[] = [];
  for (let i = bytes.indexOf(0x1b); i >= 0; i = bytes.indexOf(0x1b, i + 1)) {
    const length = escapeLength(bytes, i);
    if (length > 0 && escapeLength(bytes, i + length) > 0) drop.push(i, i + length);
  }
  if (drop.length === 0) return bytes;
  const pieces: Uint8Array[] = [];
  let from = 0;
  for (let k = 0; k < drop.length; k += 2) {
    pieces.push(bytes.subarray(from, drop[k]));
    from = drop[k + 1] ?? bytes.length;
  }
  pieces.push(bytes.subarray(from));
  return Buffer.concat(pieces);
};

const decodeIso2022Jp = (bytes: Uint8Array): string =>
  decodeWith(collapseRedundantEscapes(bytes), 'iso-2022-jp', false) ?? '';

/** windows-1252 at 0x80..0x9F (WHATWG index); the five unassigned bytes map to their C1 controls. */
const WINDOWS_1252_HIGH =
  '\u20ac\u0081\u201a\u0192\u201e\u2026\u2020\u2021\u02c6\u2030\u0160\u2039\u0152\u008d\u017d\u008f' +
  '\u0090\u2018\u2019\u201c\u201d\u2022\u2013\u2014\u02dc\u2122\u0161\u203a\u0153\u009d\u017e\u0178';

/**
 * Node 20's `TextDecoder('windows-1252')` takes a Latin-1 fast path and returns C1 controls for
 * 0x80..0x9F (nodejs/node#56542, #60888; a regression since 20.18.3): `’` (0x92) came out as
 * U+0092. Decoded here instead.
 */
const decodeWindows1252 = (bytes: Uint8Array): string =>
  Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength)
    .toString('latin1')
    .replace(/[\u0080-\u009f]/g, (char) => WINDOWS_1252_HIGH.charAt(char.charCodeAt(0) - 0x80));

const decodeWith = (bytes: Uint8Array, encoding: string, fatal: boolean): string | undefined => {
  if (encoding === 'windows-1252') return decodeWindows1252(bytes);
  try {
    return new TextDecoder(encoding, { fatal }).decode(bytes);
  } catch {
    return undefined;
  }
};

/** RFC 2152 UTF-7: `+` opens modified base64 of UTF-16BE, `-` (absorbed) or any non-base64 char closes it. */
export const decodeUtf7 = (bytes: Uint8Array): string => {
  const input = Buffer.from(bytes).toString('latin1');
  let out = '';
  let i = 0;
  while (i < input.length) {
    const plus = input.indexOf('+', i);
    if (plus < 0) {
      out += input.slice(i);
      break;
    }
    out += input.slice(i, plus);
    let end = plus + 1;
    while (end < input.length && /[A-Za-z0-9+/]/.test(input.charAt(end))) end++;
    const run = input.slice(plus + 1, end);
    if (run === '' && input.charAt(end) === '-') {
      out += '+';
    } else {
      const raw = Buffer.from(run, 'base64');
      const units = raw.subarray(0, raw.length - (raw.length % 2));
      out += decodeWith(units, 'utf-16be', false) ?? '';
    }
    i = input.charAt(end) === '-' ? end + 1 : end;
  }
  return out;
};

const decodeUtf16 = (bytes: Uint8Array, encoding: string): string => {
  if (bytes[0] === 0xfe && bytes[1] === 0xff) return decodeWith(bytes, 'utf-16be', false) ?? '';
  if (bytes[0] === 0xff && bytes[1] === 0xfe) return decodeWith(bytes, 'utf-16le', false) ?? '';
  return decodeWith(bytes, encoding, false) ?? '';
};

const onlyLatin1Range = (text: string): boolean => {
  for (let i = 0; i < text.length; i++) if (text.charCodeAt(i) > 0xff) return false;
  return true;
};

const hasCjk = (text: string): boolean => /[\u3000-\u9fff\uac00-\ud7af\uf900-\ufaff\uff00-\uffef]/.test(text);

/** Repairs text double-encoded through Latin-1 (see the module comment), or undefined. */
const repairDoubleEncoded = (utf8Text: string, encoding: string): string | undefined => {
  if (!MULTIBYTE.has(encoding) || !onlyLatin1Range(utf8Text)) return undefined;
  const repaired = decodeWith(Buffer.from(utf8Text, 'latin1'), encoding, true);
  return repaired !== undefined && hasCjk(repaired) ? repaired : undefined;
};

const labelOf = (charset: ResolvedCharset): string => charset.declared ?? 'no charset';

/**
 * Decodes bytes labelled with `label` to text, applying the byte-over-label rules above.
 * `repairDoubleEncoding` is turned off where the evidence is weaker (a header guessed from the
 * body's charset, unless the body itself was double-encoded).
 */
export const decodeBytes = (
  bytes: Uint8Array,
  label: string | undefined,
  options: { repairDoubleEncoding?: boolean } = {},
): DecodedText => {
  const charset = resolveCharset(label);
  const plain = (text: string, used: string, note?: string): DecodedText => ({
    text,
    used,
    note,
    repaired: false,
  });

  if (charset.kind === 'utf-16') {
    return plain(decodeUtf16(bytes, charset.encoding), charset.encoding);
  }
  if (isAscii(bytes)) {
    if (charset.kind === 'utf-7') return plain(decodeUtf7(bytes), 'utf-7');
    if (charset.kind === 'iso-2022-jp' || hasIso2022JpEscape(bytes)) {
      const text = decodeIso2022Jp(bytes);
      const note = text.includes('\ufffd')
        ? `invalid ISO-2022-JP sequences in ${labelOf(charset)} text`
        : undefined;
      return plain(text, 'iso-2022-jp', note);
    }
    return plain(Buffer.from(bytes).toString('latin1'), 'us-ascii');
  }

  if (isUtf8(bytes)) {
    const text = Buffer.from(bytes).toString('utf8');
    if (charset.kind === 'utf-8') return plain(text, 'utf-8');
    if (options.repairDoubleEncoding !== false) {
      const repaired = repairDoubleEncoded(text, charset.encoding);
      if (repaired !== undefined) {
        return {
          text: repaired,
          used: charset.encoding,
          note: `${labelOf(charset)} text was double-encoded as UTF-8; repaired`,
          repaired: true,
        };
      }
    }
    const note =
      charset.declared === undefined ? undefined : `labelled ${charset.declared} but the bytes are UTF-8`;
    return plain(text, 'utf-8', note);
  }

  if (charset.kind === 'utf-8') {
    return plain(
      decodeWith(bytes, 'windows-1252', false) ?? '',
      'windows-1252',
      'labelled UTF-8 but the bytes are not; decoded as windows-1252',
    );
  }
  if (charset.kind === 'weak' || charset.kind === 'utf-7') {
    const note = !charset.known
      ? `unknown charset ${labelOf(charset)}; decoded as windows-1252`
      : charset.kind === 'utf-7'
        ? 'labelled UTF-7 but has 8-bit bytes; decoded as windows-1252'
        : undefined;
    return plain(decodeWith(bytes, 'windows-1252', false) ?? '', 'windows-1252', note);
  }
  const strict = decodeWith(bytes, charset.encoding, true);
  if (strict !== undefined) return plain(strict, charset.encoding);
  return plain(
    decodeWith(bytes, charset.encoding, false) ?? '',
    charset.encoding,
    `bytes invalid in ${labelOf(charset)} were replaced with U+FFFD`,
  );
};

/** True when the binary string (one char per byte, as mailsplit keeps headers) holds 8-bit bytes or ESC. */
export const needsDecoding = (binary: string): boolean => {
  for (let i = 0; i < binary.length; i++) {
    const code = binary.charCodeAt(i);
    if (code >= 0x80 || code === 0x1b) return true;
  }
  return false;
};

/** Decodes a binary string (one char per byte) with `decodeBytes`. */
export const decodeBinaryString = (
  binary: string,
  label: string | undefined,
  options: { repairDoubleEncoding?: boolean } = {},
): DecodedText =>
  needsDecoding(binary)
    ? decodeBytes(Buffer.from(binary, 'latin1'), label, options)
    : { text: binary, used: 'us-ascii', note: undefined, repaired: false };
