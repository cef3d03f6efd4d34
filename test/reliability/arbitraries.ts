import fc from 'fast-check';

/**
 * Generators of hostile mail for the fuzz tests (test/reliability/fuzz.test.ts) and the fuzz bench
 * (bench/fuzz.ts): arbitrary bytes, arbitrary header sets, and arbitrary MIME trees written out as
 * real multipart bodies with random nesting, boundaries, transfer encodings, charsets and file
 * names. The shapes are the ones mailparser's hostile-input suite and real mail abuse use: broken
 * and colliding boundaries, encodings that lie, charsets nobody knows, names that climb out of a
 * folder or turn text around, headers called `__proto__`.
 */

// --- building blocks ----------------------------------------------------------------------------

const CRLF = '\r\n';

/** Header names people and programs send, plus names that attack the parser's own objects. */
export const HEADER_NAMES = [
  'From',
  'To',
  'Cc',
  'Bcc',
  'Reply-To',
  'Sender',
  'Subject',
  'Date',
  'Message-ID',
  'In-Reply-To',
  'References',
  'Content-Type',
  'Content-Transfer-Encoding',
  'Content-Disposition',
  'MIME-Version',
  'Return-Path',
  'Received',
  'Delivered-To',
  'X-Original-To',
  'Auto-Submitted',
  'X-Autoreply',
  'X-Autorespond',
  'Precedence',
  'List-Id',
  'List-Unsubscribe',
  'X-Postdesk-Loop',
  'X-Loop',
  'Authentication-Results',
  'ARC-Seal',
  'X-Failed-Recipients',
  'X-Auto-Response-Suppress',
  '__proto__',
  'constructor',
  'prototype',
  'hasOwnProperty',
  'toString',
  '__defineGetter__',
  'valueOf',
] as const;

export const CHARSETS = [
  'utf-8',
  'UTF-8',
  'us-ascii',
  'iso-8859-1',
  'windows-1252',
  'windows-1251',
  'iso-2022-jp',
  'shift_jis',
  'euc-jp',
  'gb2312',
  'gbk',
  'big5',
  'euc-kr',
  'ks_c_5601-1987',
  'koi8-r',
  'utf-7',
  'utf-16',
  'utf-16le',
  'x-unknown',
  'none',
  '',
  '"utf-8"',
  'utf-8"; format=flowed',
  '../../etc/passwd',
  '__proto__',
] as const;

export const TRANSFER_ENCODINGS = [
  '7bit',
  '8bit',
  'binary',
  'base64',
  'quoted-printable',
  'BASE64',
  'Quoted-Printable',
  'x-uuencode',
  'bogus',
  '',
] as const;

const LEAF_TYPES = [
  'text/plain',
  'text/html',
  'text/calendar',
  'text/enriched',
  'image/png',
  'image/gif',
  'application/octet-stream',
  'application/pdf',
  'application/ms-tnef',
  'message/rfc822',
  'message/delivery-status',
  'message/disposition-notification',
  'text/rfc822-headers',
  'x-invalid',
  '',
] as const;

const MULTIPART_SUBTYPES = [
  'mixed',
  'alternative',
  'related',
  'report',
  'signed',
  'digest',
  'x-unknown',
] as const;

/** Text with the characters that break things: CR, LF, NUL, bidi controls, encoded-word markers, quotes. */
const nastyText = (maxLength = 80): fc.Arbitrary<string> =>
  fc
    .array(
      fc.oneof(
        { weight: 6, arbitrary: fc.string({ maxLength: 12 }) },
        { weight: 2, arbitrary: fc.string({ unit: 'grapheme', maxLength: 6 }) },
        {
          weight: 3,
          arbitrary: fc.constantFrom(
            '\r\n',
            '\n',
            '\r',
            '\u202e',
            '\u2066',
            '\u200f',
            '=?',
            '?=',
            '"',
            '\\',
            '<',
            '>',
            '@',
            ';',
            ':',
            ',',
            '/close',
            '@all',
            '../',
            '..\\',
            '%00',
            '\t',
            ' ',
            '\ufeff',
            '\ud83d\ude00',
            'Bcc: victim@example.net',
          ),
        },
      ),
      { maxLength: Math.max(1, Math.floor(maxLength / 6)) },
    )
    .map((parts) => parts.join('').slice(0, maxLength));

/** `=?charset?B|Q?...?=`, valid or not. */
const encodedWord = (): fc.Arbitrary<string> =>
  fc
    .record({
      charset: fc.constantFrom(...CHARSETS),
      encoding: fc.constantFrom('B', 'Q', 'b', 'q', 'X'),
      text: nastyText(40),
      corrupt: fc.boolean(),
    })
    .map(({ charset, encoding, text, corrupt }) => {
      const payload =
        encoding.toUpperCase() === 'B'
          ? Buffer.from(text, 'utf8').toString('base64')
          : Buffer.from(text, 'utf8')
              .toString('latin1')
              .replace(
                /[^A-Za-z0-9]/g,
                (char) => `=${char.charCodeAt(0).toString(16).padStart(2, '0').toUpperCase()}`,
              );
      return `=?${charset.replace(/"/g, '')}?${encoding}?${corrupt ? payload.slice(0, -1) : payload}?=`;
    });

const address = (): fc.Arbitrary<string> =>
  fc.oneof(
    fc.constantFrom(
      'alice@example.com',
      'Alice <alice@example.com>',
      '"Bob, the builder" <bob@example.org>',
      'support+game@desk.example.com',
      'support@desk.example.com',
      'support+r-game-1-0-aaaaaaaaaaaaaaaaaaaa@desk.example.com',
      'incoming+acme-game-7-issue-@desk.example.com',
      'MAILER-DAEMON@example.com',
      'noreply@example.com',
      '<>',
      'undisclosed-recipients:;',
      '@',
      'a@b',
      '"\\"@x" <@@>',
    ),
    fc.emailAddress(),
    fc.tuple(nastyText(20), fc.emailAddress()).map(([name, mail]) => `"${name}" <${mail}>`),
    fc.tuple(encodedWord(), fc.emailAddress()).map(([name, mail]) => `${name} <${mail}>`),
  );

/** A header value: plain, an encoded word, addresses, ids, long, folded, or broken. */
export const headerValue = (): fc.Arbitrary<string> =>
  fc.oneof(
    { weight: 16, arbitrary: nastyText(120) },
    { weight: 8, arbitrary: encodedWord() },
    {
      weight: 8,
      arbitrary: fc.array(address(), { minLength: 1, maxLength: 4 }).map((list) => list.join(', ')),
    },
    {
      weight: 4,
      arbitrary: fc
        .array(fc.oneof(fc.uuid(), fc.emailAddress(), nastyText(20)), { maxLength: 5 })
        .map((ids) => ids.map((id) => `<${id}>`).join(' ')),
    },
    { weight: 4, arbitrary: fc.integer({ min: 1, max: 20_000 }).map((length) => 'x'.repeat(length)) },
    {
      weight: 4,
      arbitrary: fc.array(nastyText(30), { minLength: 2, maxLength: 6 }).map((parts) => parts.join('\r\n\t')),
    },
    { weight: 4, arbitrary: fc.json() },
    // A NUL in a header makes the whole mail unparseable: rare, so the other stages get mail too.
    { weight: 1, arbitrary: nastyText(40).map((text) => `${text}\0${text}`) },
  );

export type HeaderList = [name: string, value: string][];

/** A header set: names from the list above or random tokens, values from headerValue, duplicates allowed. */
export const headerSet = (maxHeaders = 20): fc.Arbitrary<HeaderList> =>
  fc.array(
    fc.tuple(
      fc.oneof(
        { weight: 5, arbitrary: fc.constantFrom(...HEADER_NAMES) },
        {
          weight: 1,
          arbitrary: fc.string({ minLength: 1, maxLength: 20 }).filter((name) => !/[\s:]/.test(name)),
        },
        { weight: 1, arbitrary: nastyText(20) },
      ),
      headerValue(),
    ),
    { maxLength: maxHeaders },
  );

// --- MIME trees ---------------------------------------------------------------------------------

export interface MimeLeaf {
  kind: 'leaf';
  contentType: string;
  charset: string | undefined;
  encoding: string | undefined;
  disposition: 'inline' | 'attachment' | 'bogus' | undefined;
  filename: string | undefined;
  /** How the file name is written: plain, quoted, RFC 2231 (`filename*=`), or an encoded word. */
  filenameStyle: 'plain' | 'quoted' | 'rfc2231' | 'encoded-word' | 'name-only';
  contentId: string | undefined;
  body: Uint8Array;
  /** Write the body with an encoding that contradicts the header (bad base64, stray `=` in QP). */
  corrupt: boolean;
  extraHeaders: HeaderList;
}

export interface MimeMultipart {
  kind: 'multipart';
  subtype: string;
  boundary: string;
  preamble: string;
  epilogue: string;
  /** Leave out the closing `--boundary--` (a truncated mail). */
  unterminated: boolean;
  children: MimeNode[];
  extraHeaders: HeaderList;
}

export type MimeNode = MimeLeaf | MimeMultipart;

const FILE_NAMES = [
  'report.pdf',
  '../../../../etc/passwd',
  '..\\..\\windows\\system32\\cmd.exe',
  '/absolute/path.txt',
  'invoice\u202Efdp.exe',
  'photo\u2066gnp.exe',
  'con',
  'NUL.txt',
  '.htaccess',
  '',
  ' ',
  '..',
  'a'.repeat(300),
  'ファイル名.txt',
  'file\0name.txt',
  'line\r\nbreak.txt',
  '__proto__',
  'constructor',
  'x.html',
  'x.svg',
] as const;

const boundary = (): fc.Arbitrary<string> =>
  fc.oneof(
    { weight: 6, arbitrary: fc.stringMatching(/^[A-Za-z0-9'()+_,./:=?-]{1,70}$/) },
    {
      weight: 1,
      arbitrary: fc.constantFrom('', ' ', '-', '--', '"', 'a'.repeat(200), 'b\r\nc', '__proto__'),
    },
  );

const leaf = (): fc.Arbitrary<MimeLeaf> =>
  fc.record({
    kind: fc.constant('leaf' as const),
    contentType: fc.constantFrom(...LEAF_TYPES),
    charset: fc.option(fc.constantFrom(...CHARSETS), { nil: undefined }),
    encoding: fc.option(fc.constantFrom(...TRANSFER_ENCODINGS), { nil: undefined }),
    disposition: fc.option(fc.constantFrom('inline' as const, 'attachment' as const, 'bogus' as const), {
      nil: undefined,
    }),
    filename: fc.option(fc.oneof(fc.constantFrom(...FILE_NAMES), nastyText(40)), { nil: undefined }),
    filenameStyle: fc.constantFrom(
      'plain' as const,
      'quoted' as const,
      'rfc2231' as const,
      'encoded-word' as const,
      'name-only' as const,
    ),
    contentId: fc.option(fc.oneof(fc.uuid(), nastyText(20)), { nil: undefined }),
    body: fc.oneof(
      {
        weight: 4,
        arbitrary: fc.string({ maxLength: 400 }).map((text) => new Uint8Array(Buffer.from(text, 'utf8'))),
      },
      { weight: 2, arbitrary: fc.uint8Array({ maxLength: 400 }) },
      {
        weight: 1,
        arbitrary: fc
          .constantFrom(
            '<html><body><p>Hello</p><table><tr><td>a</td></tr></table></body></html>',
            '<div>'.repeat(300),
            '<script>alert(1)</script><img src=x onerror=alert(1)>',
            '/close\n/label ~spam\n@all hello\n',
            `<a href="javascript:alert(1)">x</a>${'<b>'.repeat(100)}`,
            '> quoted\n> more\n\nOn Mon, Alice wrote:\n> old',
            'begin 644 file.txt\nM9F]O\n`\nend\n',
          )
          .map((text) => new Uint8Array(Buffer.from(text, 'utf8'))),
      },
    ),
    corrupt: fc.boolean(),
    extraHeaders: headerSet(2),
  });

/** A MIME tree at most `maxDepth` multiparts deep, at most `maxChildren` children each. */
export const mimeTree = (maxDepth = 4, maxChildren = 4): fc.Arbitrary<MimeNode> => {
  const { node } = fc.letrec<{ node: MimeNode; multipart: MimeMultipart }>((tie) => ({
    node: fc.oneof({ maxDepth, depthIdentifier: 'mime' }, leaf(), tie('multipart')),
    multipart: fc.record({
      kind: fc.constant('multipart' as const),
      subtype: fc.constantFrom(...MULTIPART_SUBTYPES),
      boundary: boundary(),
      preamble: fc.oneof(fc.constant(''), nastyText(40)),
      epilogue: fc.oneof(fc.constant(''), nastyText(40)),
      unterminated: fc.boolean(),
      children: fc.array(tie('node'), { maxLength: maxChildren, depthIdentifier: 'mime' }),
      extraHeaders: headerSet(2),
    }),
  }));
  return node;
};

// --- writing a tree out -------------------------------------------------------------------------

const quotedPrintable = (bytes: Uint8Array): string => {
  let out = '';
  let line = 0;
  for (const byte of bytes) {
    const char = String.fromCharCode(byte);
    const piece =
      (byte >= 33 && byte <= 126 && byte !== 61) || byte === 32
        ? char
        : byte === 10
          ? '\r\n'
          : `=${byte.toString(16).toUpperCase().padStart(2, '0')}`;
    if (piece === '\r\n') {
      out += piece;
      line = 0;
      continue;
    }
    if (line + piece.length > 75) {
      out += '=\r\n';
      line = 0;
    }
    out += piece;
    line += piece.length;
  }
  return out;
};

const encodeBody = (node: MimeLeaf): string => {
  const encoding = (node.encoding ?? '').toLowerCase();
  const bytes = Buffer.from(node.body);
  if (encoding === 'base64') {
    const text = bytes.toString('base64').replace(/.{76}/g, `$&${CRLF}`);
    return node.corrupt
      ? `${text.slice(0, Math.floor(text.length / 2))}!!**${text.slice(Math.floor(text.length / 2))}`
      : text;
  }
  if (encoding === 'quoted-printable') {
    const text = quotedPrintable(bytes);
    return node.corrupt ? `${text}=Z=\r\n=` : text;
  }
  return bytes.toString('latin1');
};

/** RFC 2231 percent-encoding of the UTF-8 bytes (a lone surrogate becomes U+FFFD, never a throw). */
const percentEncode = (text: string): string =>
  [...Buffer.from(text, 'utf8')]
    .map((byte) =>
      /[A-Za-z0-9._-]/.test(String.fromCharCode(byte))
        ? String.fromCharCode(byte)
        : `%${byte.toString(16).toUpperCase().padStart(2, '0')}`,
    )
    .join('');

const fileParams = (node: MimeLeaf): { disposition: string; type: string } => {
  if (node.filename === undefined) return { disposition: '', type: '' };
  const name = node.filename;
  switch (node.filenameStyle) {
    case 'plain':
      return { disposition: `; filename=${name}`, type: '' };
    case 'quoted':
      return { disposition: `; filename="${name.replace(/"/g, '\\"')}"`, type: '' };
    case 'rfc2231':
      return { disposition: `; filename*=utf-8''${percentEncode(name)}`, type: '' };
    case 'encoded-word':
      return {
        disposition: `; filename="=?utf-8?B?${Buffer.from(name, 'utf8').toString('base64')}?="`,
        type: '',
      };
    case 'name-only':
      return { disposition: '', type: `; name="${name}"` };
  }
};

const writeHeaders = (headers: HeaderList): string =>
  headers.map(([name, value]) => `${name}: ${value}${CRLF}`).join('');

/** The part's own header block and body, without the trailing CRLF. */
export const writeNode = (node: MimeNode): string => {
  if (node.kind === 'multipart') {
    const head =
      `Content-Type: multipart/${node.subtype}; boundary="${node.boundary}"${CRLF}` +
      writeHeaders(node.extraHeaders);
    const parts = node.children
      .map((child) => `--${node.boundary}${CRLF}${writeNode(child)}${CRLF}`)
      .join('');
    const close = node.unterminated ? '' : `--${node.boundary}--${CRLF}`;
    return `${head}${CRLF}${node.preamble}${CRLF}${parts}${close}${node.epilogue}`;
  }
  const params = fileParams(node);
  const charset = node.charset === undefined ? '' : `; charset=${node.charset}`;
  const lines = [
    node.contentType === '' ? 'Content-Type:' : `Content-Type: ${node.contentType}${charset}${params.type}`,
    ...(node.encoding === undefined ? [] : [`Content-Transfer-Encoding: ${node.encoding}`]),
    ...(node.disposition === undefined && params.disposition === ''
      ? []
      : [`Content-Disposition: ${node.disposition ?? 'attachment'}${params.disposition}`]),
    ...(node.contentId === undefined ? [] : [`Content-ID: <${node.contentId}>`]),
  ];
  return `${lines.join(CRLF)}${CRLF}${writeHeaders(node.extraHeaders)}${CRLF}${encodeBody(node)}`;
};

/** Top-level headers every fuzzed mail starts with unless the header set replaces them. */
export interface MailTop {
  from: string;
  subject: string;
  messageId: string;
}

const mailTop = (): fc.Arbitrary<MailTop> =>
  fc.record({
    from: address(),
    subject: fc.oneof(nastyText(80), encodedWord()),
    messageId: fc.oneof(
      fc.uuid().map((id) => `<${id}@example.com>`),
      nastyText(30),
    ),
  });

/** A whole mail: standard headers (sometimes left out), random extra headers, a random MIME tree. */
export const mimeMail = (maxDepth = 4, maxChildren = 4): fc.Arbitrary<Buffer> =>
  fc
    .record({
      top: mailTop(),
      keepStandard: fc.boolean(),
      headers: headerSet(8),
      tree: mimeTree(maxDepth, maxChildren),
    })
    .map(({ top, keepStandard, headers, tree }) => {
      const standard: HeaderList = keepStandard
        ? [
            ['From', top.from],
            ['To', 'support+game@desk.example.com'],
            ['Subject', top.subject],
            ['Message-ID', top.messageId],
            ['MIME-Version', '1.0'],
          ]
        : [];
      return Buffer.from(`${writeHeaders([...standard, ...headers])}${writeNode(tree)}`, 'latin1');
    });

/** A mail from a header set alone, with a short body. */
export const headerMail = (): fc.Arbitrary<Buffer> =>
  fc
    .tuple(headerSet(25), fc.string({ maxLength: 200 }))
    .map(([headers, body]) => Buffer.from(`${writeHeaders(headers)}${CRLF}${body}`, 'utf8'));

/** Arbitrary bytes, and bytes that look almost like a mail (header-ish lines, CRLFs, colons). */
export const arbitraryBytes = (): fc.Arbitrary<Buffer> =>
  fc.oneof(
    fc.uint8Array({ maxLength: 2048 }).map((bytes) => Buffer.from(bytes)),
    fc
      .array(
        fc.oneof(
          fc.string({ maxLength: 30 }),
          fc.constantFrom(':', '\r\n', '\n', '\r\n\r\n', '--', '=?', ' '),
        ),
        {
          maxLength: 60,
        },
      )
      .map((parts) => Buffer.from(parts.join(''), 'utf8')),
  );

/** Any of the three kinds, weighted towards structured mail. */
export const anyMail = (): fc.Arbitrary<Buffer> =>
  fc.oneof(
    { weight: 2, arbitrary: arbitraryBytes() },
    { weight: 3, arbitrary: headerMail() },
    { weight: 5, arbitrary: mimeMail() },
  );

/** Recipients as SES would list them: desk forms, strangers, garbage. */
const randomRecipients = (): fc.Arbitrary<string[]> =>
  fc.array(
    fc.oneof(
      fc.constantFrom(
        'support+game@desk.example.com',
        'support+docs@desk.example.com',
        'support@desk.example.com',
        'incoming+acme-game-7-issue-@desk.example.com',
        'support+r-game-1-0-aaaaaaaaaaaaaaaaaaaa@desk.example.com',
        'SUPPORT+GAME@DESK.EXAMPLE.COM',
        'someone@elsewhere.example',
        '',
        '<>',
        '@desk.example.com',
      ),
      fc.emailAddress(),
      nastyText(30),
    ),
    { maxLength: 4 },
  );

/** Recipients as SES would list them: half the time the game desk alone, else desk forms, strangers, garbage. */
export const envelopeRecipients = (): fc.Arbitrary<string[]> =>
  fc.oneof(
    { weight: 1, arbitrary: fc.constant<string[]>(['support+game@desk.example.com']) },
    { weight: 1, arbitrary: randomRecipients() },
  );

// --- size-scaled shapes for the linearity check -------------------------------------------------

export interface ScaledShape {
  /** The size n the check starts from: big enough that fixed costs and GC steps do not dominate,
   * small enough that 2n stays under the caps that would reject the mail (a header block is capped
   * at 256 KiB). */
  bytes: number;
  make(n: number): Buffer;
}

/**
 * Mails whose size scales with `n` in one dimension each, for comparing run time at n and 2n: a
 * super-linear regular expression or a quadratic loop shows up as a ratio near 4 instead of 2.
 */
export const SCALED_SHAPES: Record<string, ScaledShape> = {
  /** One very long body line, no line break (regexes that backtrack on a line). */
  long_line: {
    bytes: 512 * 1024,
    make: (n) => Buffer.from(`From: a@example.com\r\nSubject: x\r\n\r\n${'a'.repeat(n)}\r\n`),
  },
  /** Many short lines of quoted text (reply trimming). */
  quoted_lines: {
    bytes: 512 * 1024,
    make: (n) =>
      Buffer.from(
        `From: a@example.com\r\nSubject: x\r\n\r\nhi\r\n${'> quoted text line\r\n'.repeat(Math.ceil(n / 20))}`,
      ),
  },
  /** Many headers (header map, classification rules). */
  many_headers: {
    bytes: 96 * 1024,
    make: (n) =>
      Buffer.from(
        `From: a@example.com\r\nSubject: x\r\n${'X-Filler: some value here\r\n'.repeat(Math.ceil(n / 27))}\r\nbody\r\n`,
      ),
  },
  /** A long folded Subject of encoded words (RFC 2047 decoding). */
  encoded_subject: {
    bytes: 96 * 1024,
    make: (n) =>
      Buffer.from(
        `From: a@example.com\r\nSubject: ${'=?utf-8?B?w6nDqcOp?=\r\n '.repeat(Math.ceil(n / 24))}x\r\n\r\nbody\r\n`,
      ),
  },
  /** Deeply nested inline HTML (HTML to Markdown). */
  nested_html: {
    bytes: 512 * 1024,
    make: (n) =>
      Buffer.from(
        `From: a@example.com\r\nSubject: x\r\nContent-Type: text/html; charset=utf-8\r\n\r\n${'<div><span>'.repeat(
          Math.ceil(n / 22),
        )}text${'</span></div>'.repeat(Math.ceil(n / 22))}\r\n`,
      ),
  },
  /** Many sibling MIME parts (part walking; 400 parts, under the 500-part cap, of growing size). */
  many_parts: {
    bytes: 512 * 1024,
    make: (n) => {
      const count = 400;
      const part = `--b\r\nContent-Type: text/plain\r\n\r\n${'p'.repeat(Math.max(1, Math.floor(n / count) - 40))}\r\n`;
      return Buffer.from(
        `From: a@example.com\r\nSubject: x\r\nContent-Type: multipart/mixed; boundary="b"\r\n\r\n${part.repeat(count)}--b--\r\n`,
      );
    },
  },
  /** A base64 attachment (decoding, size counting, streaming it to the forge). */
  base64_attachment: {
    bytes: 1024 * 1024,
    make: (n) =>
      Buffer.from(
        `From: a@example.com\r\nSubject: x\r\nContent-Type: multipart/mixed; boundary="b"\r\n\r\n--b\r\nContent-Type: text/plain\r\n\r\nsee file\r\n--b\r\nContent-Type: application/octet-stream\r\nContent-Transfer-Encoding: base64\r\nContent-Disposition: attachment; filename="f.bin"\r\n\r\n${Buffer.alloc(
          Math.ceil((n * 3) / 4),
          7,
        )
          .toString('base64')
          .replace(/.{76}/g, '$&\r\n')}\r\n--b--\r\n`,
      ),
  },
};
