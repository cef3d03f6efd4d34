import { MAX_FILENAME_BYTES } from './constants.ts';
import { cleanText, INVISIBLE_IN_NAMES } from './text-clean.ts';

/** A few common types, for naming an attachment that came without a name. */
const EXTENSION_BY_TYPE: ReadonlyMap<string, string> = new Map(
  Object.entries({
    'application/gzip': 'gz',
    'application/json': 'json',
    'application/ms-tnef': 'dat',
    'application/msword': 'doc',
    'application/octet-stream': 'bin',
    'application/pdf': 'pdf',
    'application/pgp-encrypted': 'pgp',
    'application/pkcs7-mime': 'p7m',
    'application/vnd.ms-excel': 'xls',
    'application/vnd.openxmlformats-officedocument.spreadsheetml.sheet': 'xlsx',
    'application/vnd.openxmlformats-officedocument.wordprocessingml.document': 'docx',
    'application/xml': 'xml',
    'application/zip': 'zip',
    'image/gif': 'gif',
    'image/jpeg': 'jpg',
    'image/png': 'png',
    'image/svg+xml': 'svg',
    'image/webp': 'webp',
    'message/delivery-status': 'txt',
    'message/rfc822': 'eml',
    'text/calendar': 'ics',
    'text/csv': 'csv',
    'text/html': 'html',
    'text/plain': 'txt',
    'text/x-vcard': 'vcf',
    'text/vcard': 'vcf',
    'text/watch-html': 'html',
  }),
);

/** Extension for a content type: the table above, else a plain subtype, else `bin`. */
export const extensionFor = (contentType: string): string => {
  const type = contentType.toLowerCase().split(';')[0]?.trim() ?? '';
  const known = EXTENSION_BY_TYPE.get(type);
  if (known !== undefined) return known;
  const subtype = type.split('/')[1]?.replace(/^x-/, '') ?? '';
  return /^[a-z0-9]{1,10}$/.test(subtype) ? subtype : 'bin';
};

/** Characters Windows (and most shells) cannot take in a name, replaced with `_`. */
const RESERVED_CHARACTERS = /[:*?"<>|]/g;
const WINDOWS_DEVICE = /^(?:con|prn|aux|nul|com[0-9]|lpt[0-9])(?:\.|$)/i;
const EXTENSION = /\.([A-Za-z0-9]{1,16})$/;

const utf8Length = (text: string): number => Buffer.byteLength(text, 'utf8');

/** The longest prefix of `text` whose UTF-8 encoding fits in `bytes`, on a code-point boundary. */
const cutToBytes = (text: string, bytes: number): string => {
  let out = '';
  let used = 0;
  for (const char of text) {
    const size = utf8Length(char);
    if (used + size > bytes) break;
    out += char;
    used += size;
  }
  return out;
};

/**
 * A file name that is safe to upload and to show:
 *
 * - only the last path segment (`../../etc/passwd` -> `passwd`, `C:\x\y.txt` -> `y.txt`);
 * - no control characters, no bidi controls or marks (`invoice\u202Efdp.exe` would display as
 *   `invoiceexe.pdf`), no zero-width characters;
 * - no leading dots (no hidden files, no `..`), runs of dots folded, no trailing dots or spaces
 *   (Windows drops them), `:*?"<>|` replaced, Windows device names prefixed;
 * - at most 200 UTF-8 bytes, cut on a code-point boundary, keeping the extension;
 * - and when nothing is left: `attachment-<n>.<extension for the content type>`.
 */
export const safeFilename = (name: string | undefined, contentType: string, position: number): string => {
  const cleaned = cleanText(name ?? '')
    .normalize('NFC')
    .replace(INVISIBLE_IN_NAMES, '')
    .replace(/[\n\t]/g, ' ');
  const base = cleaned.split(/[/\\]/).pop() ?? '';
  const collapsed = base
    .replace(RESERVED_CHARACTERS, '_')
    .replace(/\.{2,}/g, '.')
    .replace(/ {2,}/g, ' ');
  // Index loops, not repeated slicing: ". . . ." names must stay linear.
  let start = 0;
  let end = collapsed.length;
  while (start < end && (collapsed.charAt(start) === '.' || /\s/.test(collapsed.charAt(start)))) start++;
  while (end > start && (collapsed.charAt(end - 1) === '.' || /\s/.test(collapsed.charAt(end - 1)))) end--;
  let safe = collapsed.slice(start, end);
  if (safe === '') return `attachment-${position + 1}.${extensionFor(contentType)}`;
  if (WINDOWS_DEVICE.test(safe)) safe = `_${safe}`;
  if (utf8Length(safe) <= MAX_FILENAME_BYTES) return safe;
  const extension = EXTENSION.exec(safe)?.[0] ?? '';
  const stem = safe.slice(0, safe.length - extension.length);
  const kept = cutToBytes(stem, MAX_FILENAME_BYTES - utf8Length(extension)).trimEnd();
  return kept === '' ? cutToBytes(safe, MAX_FILENAME_BYTES) : `${kept}${extension}`;
};
