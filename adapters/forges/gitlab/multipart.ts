import { randomBytes } from 'node:crypto';

/**
 * multipart/form-data framing for a single streamed `file` field (RFC 7578). The file itself is
 * never held: the adapter writes `head`, pipes the content, then writes `tail`.
 */
export interface MultipartFraming {
  contentType: string;
  head: Buffer;
  tail: Buffer;
}

/** A MIME type we pass on verbatim; anything else (CR/LF injection, junk) becomes octet-stream. */
const SAFE_MEDIA_TYPE = /^[a-z0-9][a-z0-9!#$&^_.+-]{0,126}\/[a-z0-9][a-z0-9!#$&^_.+-]{0,126}$/i;

/**
 * The `filename` parameters of a Content-Disposition, RFC 6266 style: a quoted ASCII fallback in
 * which nothing needs escaping (`"`, `\`, controls and non-ASCII become `_`, path separators too),
 * plus `filename*=UTF-8''…` (RFC 8187) when the real name is not plain ASCII. Workhorse parses
 * with Go's `mime.ParseMediaType`, which prefers `filename*`; Rack reads it too.
 */
export const contentDispositionFilename = (filename: string): string => {
  // Only the last path segment is a name; controls and bidi overrides are never part of one.
  const base = filename.split(/[/\\]/).pop() ?? '';
  const cleaned = base.replace(/[\p{Cc}\p{Cf}]/gu, '').trim();
  const name = cleaned === '' || cleaned === '.' || cleaned === '..' ? 'file' : cleaned;
  const fallback = name.replace(/[^\x20-\x7e]|["\\]/g, '_');
  if (fallback === name) return `filename="${name}"`;
  const encoded = encodeURIComponent(name).replace(
    /['()*!]/g,
    (c) => `%${c.charCodeAt(0).toString(16).toUpperCase()}`,
  );
  return `filename="${fallback}"; filename*=UTF-8''${encoded}`;
};

export const multipartFraming = (
  field: string,
  filename: string,
  contentType: string,
  boundary = `postdesk-${randomBytes(18).toString('hex')}`,
): MultipartFraming => {
  const type = SAFE_MEDIA_TYPE.test(contentType) ? contentType : 'application/octet-stream';
  const head = Buffer.from(
    `--${boundary}\r\n` +
      `Content-Disposition: form-data; name="${field}"; ${contentDispositionFilename(filename)}\r\n` +
      `Content-Type: ${type}\r\n\r\n`,
    'utf8',
  );
  const tail = Buffer.from(`\r\n--${boundary}--\r\n`, 'utf8');
  return { contentType: `multipart/form-data; boundary=${boundary}`, head, tail };
};
