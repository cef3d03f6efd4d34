import { Readable } from 'node:stream';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { PermanentError, TransientError } from '../../core/errors.ts';
import { parseMail } from '../../core/stages/parse/index.ts';
import { HeaderBlockMeter, rawHeaderOverCaps } from '../../core/stages/parse/limits.ts';
import {
  bufferOpener,
  corpusMail,
  fileBytes,
  fileOpener,
  limitsWith,
  parsedOf,
  parseFile,
  parseFixture,
  readAll,
} from './fixtures.ts';

describe('parse caps: each ends in rejected with its reason, the value and the key to raise', () => {
  it('raw_too_large: known size is checked before the mail is even opened', async () => {
    // Prepare
    const path = corpusMail('mailparser/nodemailer.eml');
    const opener = fileOpener(path);
    // Act
    const result = await parseMail(opener.open, {
      limits: limitsWith({ max_raw_bytes: 40_000 }),
      size: 44_920,
    });
    // Assess
    expect(result).toMatchObject({ ok: false, outcome: 'rejected', reason: 'raw_too_large' });
    expect(opener.calls()).toBe(0);
    if (result.ok) return;
    expect(result.message).toContain('44920 bytes');
    expect(result.message).toContain('40000 bytes');
    expect(result.message).toContain('limits.max_raw_bytes');
  });

  it('raw_too_large: unknown size is counted while streaming', async () => {
    // Prepare
    const opener = fileOpener(corpusMail('mailparser/nodemailer.eml'));
    // Act
    const result = await parseMail(opener.open, { limits: limitsWith({ max_raw_bytes: 40_000 }) });
    // Assess
    expect(result).toMatchObject({ ok: false, reason: 'raw_too_large' });
    expect(opener.calls()).toBe(1);
    if (result.ok) return;
    expect(result.message).toMatch(/more than \d+ bytes/);
    expect(result.detail).toMatchObject({ key: 'limits.max_raw_bytes', max: 40_000 });
  });

  it('header_too_large: a 6 KB header block against max_header_bytes 4096', async () => {
    // Act
    const result = await parseFile(parseFixture('header-6k.eml'), limitsWith({ max_header_bytes: 4096 }));
    // Assess
    expect(result).toMatchObject({ ok: false, outcome: 'rejected', reason: 'header_too_large' });
    if (result.ok) return;
    expect(result.message).toContain('4096 bytes');
    expect(result.message).toContain('limits.max_header_bytes');
  });

  it('header_too_large: the default 256 KB limit, also for a part header', async () => {
    // Prepare
    const padding = Array.from({ length: 4000 }, (_, i) => `X-Pad-${i}: ${'y'.repeat(70)}\r\n`).join('');
    const topLevel = `From: a@example.com\r\nSubject: big header\r\n${padding}\r\nbody\r\n`;
    const inPart =
      'From: a@example.com\r\nContent-Type: multipart/mixed; boundary="b"\r\n\r\n--b\r\n' +
      `${padding}Content-Type: text/plain\r\n\r\nbody\r\n--b--\r\n`;
    // Act
    const results = await Promise.all(
      [topLevel, inPart].map((mail) => parseMail(bufferOpener(mail), { limits: limitsWith() })),
    );
    // Assess
    for (const result of results) expect(result).toMatchObject({ ok: false, reason: 'header_too_large' });
    expect(parsedOf(await parseFile(parseFixture('header-6k.eml'))).subject).toBe('padded header');
  });

  it('header_too_large: a Subject folded into 5,000 lines, in a 40 KB header, over max_header_lines', async () => {
    // Prepare: four lines besides the Subject's; the limit counts every line of the header block.
    const mail = (subjectLines: number): string =>
      `From: a@example.com\r\nTo: b@example.com\r\nSubject: x${'\r\n word'.repeat(subjectLines - 1)}\r\n` +
      `Message-ID: <m@example.com>\r\n\r\nbody\r\n`;
    // Act
    const over = await parseMail(bufferOpener(mail(4998)), { limits: limitsWith() });
    const atLimit = await parseMail(bufferOpener(mail(4997)), { limits: limitsWith() });
    // Assess
    expect(over).toMatchObject({ ok: false, outcome: 'rejected', reason: 'header_too_large' });
    if (over.ok) return;
    expect(over.message).toContain('more than 5000 lines');
    expect(over.detail).toMatchObject({
      limit: 'max_header_lines',
      key: 'limits.max_header_lines',
      max: 5000,
    });
    expect(parsedOf(atLimit).text?.trim()).toBe('body');
  });

  it('header caps on raw bytes: fed a byte at a time or all at once, the meter stops at the same place', () => {
    // Prepare
    const limits = limitsWith({ max_header_lines: 3, max_header_bytes: 60 });
    const cases = [
      'A: 1\r\nB: 2\r\nC: 3\r\n\r\nbody line 1\r\nbody line 2\r\nbody line 3\r\nbody line 4\r\n',
      'A: 1\nB: 2\n\tfolded\n\n',
      'A: 1\r\nB: 2\r\n folded\r\n again\r\n\r\n',
      `A: ${'x'.repeat(70)}\r\n\r\n`,
    ];
    const outcome = (error: ReturnType<HeaderBlockMeter['feed']>) =>
      error === undefined ? 'ok' : String(error.detail?.['limit']);
    // Act
    const whole = cases.map((text) => outcome(rawHeaderOverCaps(Buffer.from(text), limits)));
    const byteByByte = cases.map((text) => {
      const meter = new HeaderBlockMeter(limits);
      for (const byte of Buffer.from(text)) {
        const error = meter.feed(Uint8Array.of(byte));
        if (error !== undefined) return outcome(error);
      }
      return 'ok';
    });
    // Assess
    expect(whole).toEqual(['ok', 'ok', 'max_header_lines', 'max_header_bytes']);
    expect(byteByByte).toEqual(whole);
  });

  it('mime_too_deep: parts nested 21 levels deep, over the default 20', async () => {
    // Act
    const result = await parseFile(parseFixture('mime-depth-21.eml'));
    // Assess
    expect(result).toMatchObject({ ok: false, outcome: 'rejected', reason: 'mime_too_deep' });
    if (result.ok) return;
    expect(result.message).toContain('21 levels deep');
    expect(result.message).toContain('limit of 20');
    expect(result.message).toContain('limits.max_mime_depth');
  });

  it('mime_too_deep: exactly at the limit still parses', async () => {
    // Act
    const mail = parsedOf(await parseFile(parseFixture('mime-depth-20.eml')));
    // Assess
    expect(mail.text).toBe('deep leaf at depth 20');
  });

  it('too_many_parts: 501 MIME parts (the top-level one counts), over the default 500', async () => {
    // Act
    const result = await parseFile(parseFixture('too-many-parts-501.eml'));
    // Assess
    expect(result).toMatchObject({ ok: false, outcome: 'rejected', reason: 'too_many_parts' });
    if (result.ok) return;
    expect(result.message).toContain('501 MIME parts');
    expect(result.message).toContain('limits.max_parts');
    expect(result.detail).toMatchObject({ value: 501, max: 500 });
  });

  it('too_many_parts: raising max_parts accepts the same mail', async () => {
    // Act
    const mail = parsedOf(
      await parseFile(parseFixture('too-many-parts-501.eml'), limitsWith({ max_parts: 501 })),
    );
    // Assess
    expect(mail.text?.split('\n')).toHaveLength(500);
  });
});

describe('parse rejects malformed mail with a reason, and never throws for it', () => {
  it('duplicate_from: two From headers (regression: the reason was lost to an AbortError)', async () => {
    // Act
    const result = await parseFile(parseFixture('duplicate-from.eml'));
    // Assess
    expect(result).toMatchObject({ ok: false, outcome: 'rejected', reason: 'duplicate_from' });
  });

  it('duplicate_subject: two Subject headers', async () => {
    // Act
    const result = await parseFile(parseFixture('duplicate-subject.eml'));
    // Assess
    expect(result).toMatchObject({ ok: false, outcome: 'rejected', reason: 'duplicate_subject' });
  });

  it.each([
    ['empty.eml', 'known size 0'],
    ['whitespace-only.eml', 'only blank lines'],
  ])('empty_mail: %s (%s)', async (name) => {
    // Act
    const withSize = await parseFile(parseFixture(name));
    const streamed = await parseMail(fileOpener(parseFixture(name)).open, { limits: limitsWith() });
    // Assess
    expect(withSize).toMatchObject({ ok: false, reason: 'empty_mail' });
    expect(streamed).toMatchObject({ ok: false, reason: 'empty_mail' });
  });

  it.each([['binary-garbage.bin'], ['body-without-headers.txt']])(
    'unparseable: %s is not a mail',
    async (name) => {
      // Act
      const result = await parseFile(parseFixture(name));
      // Assess
      expect(result).toMatchObject({ ok: false, outcome: 'quarantined', reason: 'unparseable' });
    },
  );

  it('unparseable: a header block made of lines that are not header fields', async () => {
    // Act
    const result = await parseMail(
      bufferOpener('Subject: x\r\nthis is\r\nnot a header\r\nblock at all\r\n\r\nbody'),
      {
        limits: limitsWith(),
      },
    );
    // Assess
    expect(result).toMatchObject({ ok: false, outcome: 'quarantined', reason: 'unparseable' });
  });

  it('a mail cut inside its header block still parses what is there', async () => {
    // Act
    const mail = parsedOf(await parseFile(parseFixture('truncated-in-header.eml')));
    // Assess
    expect(mail.subject).toBe('cut while the headers were still coming');
    expect(mail.warnings.join('\n')).toContain('malformed header line');
  });

  it('a mail cut inside a base64 attachment keeps the part that arrived, and open() streams the same bytes', async () => {
    // Prepare
    const path = parseFixture('truncated-in-attachment.eml');
    // Act
    const mail = parsedOf(await parseFile(path));
    const attachment = mail.attachments[0];
    const content = attachment === undefined ? Buffer.alloc(0) : await readAll(await attachment.open());
    // Assess
    expect(mail.text).toBe('See the attached file.');
    expect(attachment).toMatchObject({ filename: 'data.bin', size: content.length });
    expect(content.length).toBeGreaterThan(500);
    expect(content.subarray(0, 256)).toEqual(Buffer.from(Array.from({ length: 256 }, (_, i) => i)));
  });

  it('a multipart without a boundary keeps its body as text, with a warning', async () => {
    // Act
    const mail = parsedOf(await parseFile(parseFixture('multipart-without-boundary.eml')));
    // Assess
    expect(mail.text).toContain('this text must not be lost');
    expect(mail.warnings).toEqual(['part 1: multipart/mixed without a boundary; read as text']);
  });

  it('never throws on arbitrary bytes or on corpus mails cut and flipped at random', async () => {
    // Prepare
    const seeds = ['mailparser/nodemailer.eml', 'charsets/mail-iso-2022-jp-rfc2231-filename-invalid.eml'].map(
      (name) => fileBytes(corpusMail(name)),
    );
    const mutated = fc
      .tuple(fc.constantFrom(...seeds), fc.nat(), fc.nat(), fc.integer({ min: 0, max: 255 }))
      .map(([seed, cut, flip, byte]) => {
        const copy = Buffer.from(seed.subarray(0, 1 + (cut % seed.length)));
        copy[flip % copy.length] = byte;
        return copy;
      });
    const input = fc.oneof(
      fc.uint8Array({ maxLength: 2000 }).map((bytes) => Buffer.from(bytes)),
      mutated,
    );
    // Act & Assess
    await fc.assert(
      fc.asyncProperty(input, async (bytes) => {
        const result = await parseMail(bufferOpener(bytes, 97), { limits: limitsWith({ max_parts: 50 }) });
        expect(typeof result.ok).toBe('boolean');
        if (result.ok)
          for (const attachment of result.value.attachments) await readAll(await attachment.open());
      }),
      { numRuns: 150 },
    );
  });
});

describe('parse throws only when the raw mail cannot be read', () => {
  it('wraps a failing open() in a TransientError', async () => {
    // Prepare
    const open = async (): Promise<Readable> => {
      throw Object.assign(new Error('socket hang up'), { code: 'ECONNRESET' });
    };
    // Act
    const parsing = parseMail(open, { limits: limitsWith() });
    // Assess
    await expect(parsing).rejects.toBeInstanceOf(TransientError);
    await expect(parsing).rejects.toMatchObject({ code: 'raw_mail_unavailable' });
  });

  it('keeps a PostdeskError from the store as it is (a missing object is permanent)', async () => {
    // Prepare
    const missing = new PermanentError('raw_mail_missing', 'no such key');
    // Act
    const parsing = parseMail(
      async () => {
        throw missing;
      },
      { limits: limitsWith() },
    );
    // Assess
    await expect(parsing).rejects.toBe(missing);
  });

  it('wraps a stream that fails half-way in a TransientError', async () => {
    // Prepare
    async function* failing(): AsyncGenerator<Buffer> {
      yield Buffer.from('From: a@example.com\r\nSubject: x\r\n\r\nfirst half');
      throw new Error('connection reset by peer');
    }
    // Act
    const parsing = parseMail(async () => Readable.from(failing()), { limits: limitsWith() });
    // Assess
    await expect(parsing).rejects.toBeInstanceOf(TransientError);
    await expect(parsing).rejects.toMatchObject({ code: 'raw_mail_read_failed' });
  });

  it('an attachment re-read whose stream fails ends the returned stream with a TransientError', async () => {
    // Prepare
    const bytes = fileBytes(corpusMail('mailparser/nodemailer.eml'));
    let reads = 0;
    const open = async (): Promise<Readable> => {
      reads++;
      if (reads === 1) return Readable.from([bytes]);
      async function* failing(): AsyncGenerator<Buffer> {
        yield bytes.subarray(0, 3000);
        throw new Error('connection reset by peer');
      }
      return Readable.from(failing());
    };
    const mail = parsedOf(await parseMail(open, { limits: limitsWith() }));
    const gif = mail.attachments.find((attachment) => attachment.contentType === 'image/gif');
    // Act
    const reading = gif === undefined ? Promise.resolve(Buffer.alloc(0)) : gif.open().then(readAll);
    // Assess
    await expect(reading).rejects.toBeInstanceOf(TransientError);
  });
});
