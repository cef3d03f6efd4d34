import { Readable } from 'node:stream';
import { simpleParser } from 'mailparser';
import { describe, expect, it } from 'vitest';
import { parseMail } from '../../core/stages/parse/index.ts';
import {
  corpusMail,
  fileBytes,
  fileOpener,
  limitsWith,
  parsedOf,
  parseFile,
  parseOk,
  readAll,
  sha256,
} from './fixtures.ts';

describe('attachments: metadata from the first pass, content streamed on demand', () => {
  it('lists nodemailer.eml attachments with names, types, content ids and decoded sizes', async () => {
    // Act
    const mail = await parseOk(corpusMail('mailparser/nodemailer.eml'));
    // Assess
    expect(mail.attachments.map(({ open: _open, ...meta }) => meta)).toEqual([
      {
        index: 0,
        filename: undefined,
        contentType: 'text/watch-html',
        contentId: undefined,
        disposition: undefined,
        size: 22,
        related: false,
      },
      {
        index: 1,
        filename: 'image.png',
        contentType: 'image/png',
        contentId: 'note@example.com',
        disposition: 'attachment',
        size: 126,
        related: true,
      },
      {
        index: 2,
        filename: 'nyan cat ✔.gif',
        contentType: 'image/gif',
        contentId: 'nyan@example.com',
        disposition: 'attachment',
        size: 29361,
        related: true,
      },
      {
        index: 3,
        filename: 'notes.txt',
        contentType: 'text/plain',
        contentId: undefined,
        disposition: 'attachment',
        size: 28,
        related: false,
      },
    ]);
    expect(mail.html).toContain('cid:nyan@example.com');
    expect(mail.text).toBe('Hello to myself!');
  });

  it('open() streams exactly the bytes simpleParser decodes from the whole message', async () => {
    // Prepare
    const path = corpusMail('mailparser/nodemailer.eml');
    const whole = await simpleParser(fileBytes(path));
    const expected = whole.attachments.map((attachment) => sha256(attachment.content));
    // Act
    const mail = await parseOk(path);
    const streamed = await Promise.all(
      mail.attachments.map(async (attachment) => readAll(await attachment.open())),
    );
    // Assess
    expect(streamed.map(sha256)).toEqual(expected);
    expect(streamed.map((bytes) => bytes.length)).toEqual(
      mail.attachments.map((attachment) => attachment.size),
    );
    expect(streamed[3]?.toString()).toBe('Some notes about this e-mail');
  });

  it('open() re-opens the raw mail for every read', async () => {
    // Prepare
    const opener = fileOpener(corpusMail('mailparser/nodemailer.eml'));
    const mail = parsedOf(await parseMail(opener.open, { limits: limitsWith() }));
    const gif = mail.attachments[2];
    // Act
    const first = gif === undefined ? Buffer.alloc(0) : await readAll(await gif.open());
    const second = gif === undefined ? Buffer.alloc(0) : await readAll(await gif.open());
    // Assess
    expect(opener.calls()).toBe(3);
    expect(sha256(first)).toBe(sha256(second));
    expect(first.subarray(0, 6).toString('latin1')).toBe('GIF89a');
  });

  it('open() streams a large attachment with backpressure instead of reading the whole mail', async () => {
    // Prepare: an 8 MB attachment, served in 64 KB chunks, counting what the parser pulls.
    const content = Buffer.alloc(8 * 1024 * 1024);
    for (let i = 0; i < content.length; i++) content[i] = (i * 7919) % 251;
    const base64 = content.toString('base64').replace(/.{76}/g, '$&\r\n');
    const raw = Buffer.from(
      'From: a@example.com\r\nSubject: big\r\nContent-Type: multipart/mixed; boundary="b"\r\n\r\n--b\r\n' +
        'Content-Type: text/plain\r\n\r\nsee attachment\r\n--b\r\nContent-Type: application/octet-stream; name="big.bin"\r\n' +
        `Content-Transfer-Encoding: base64\r\n\r\n${base64}\r\n--b--\r\n`,
    );
    let pulled = 0;
    const open = async (): Promise<Readable> =>
      Readable.from(
        (function* chunks() {
          for (let offset = 0; offset < raw.length; offset += 64 * 1024) {
            pulled += 64 * 1024;
            yield raw.subarray(offset, offset + 64 * 1024);
          }
        })(),
      );
    const mail = parsedOf(await parseMail(open, { limits: limitsWith(), size: raw.length }));
    const attachment = mail.attachments[0];
    pulled = 0;
    // Act
    const stream = attachment === undefined ? Readable.from([]) : await attachment.open();
    await new Promise((resolve) => setTimeout(resolve, 100));
    const pulledWhileIdle = pulled;
    const streamed = await readAll(stream);
    // Assess
    expect(attachment?.size).toBe(content.length);
    expect(pulledWhileIdle).toBeLessThan(2 * 1024 * 1024);
    expect(sha256(streamed)).toBe(sha256(content));
  });

  it('a reader that stops early ends the re-read: the raw mail stream is destroyed, not read to the end', async () => {
    // Prepare: the second read serves the first 20 KB, then stalls as a slow network would.
    const bytes = fileBytes(corpusMail('mailparser/nodemailer.eml'));
    const stalled = new Readable({ read() {} });
    stalled.push(bytes.subarray(0, 20_000));
    const sources = [Readable.from([bytes]), stalled];
    const open = async (): Promise<Readable> => sources.shift() ?? Readable.from([bytes]);
    const mail = parsedOf(await parseMail(open, { limits: limitsWith() }));
    const gif = mail.attachments[2];
    // Act
    const stream = gif === undefined ? Readable.from([]) : await gif.open();
    for await (const _chunk of stream) break;
    await new Promise((resolve) => setTimeout(resolve, 50));
    // Assess
    expect(stalled.destroyed).toBe(true);
  });

  it('marks inline images of a multipart/related as related, with their content id', async () => {
    // Act
    const mail = await parseOk(corpusMail('charsets/stalwart-windows-1252-qp-related.eml'));
    // Assess
    expect(
      mail.attachments.map(({ filename, contentId, disposition, related }) => [
        filename,
        contentId,
        disposition,
        related,
      ]),
    ).toEqual([
      ['kigaaldcbanejcbi.png', 'part1.8C5E6A81.D0C1B91A@example.com', 'inline', true],
      ['attach2.png', undefined, 'attachment', false],
    ]);
  });

  it('keeps a bounce report: multipart/report params, the DSN and the returned message as attachments', async () => {
    // Act
    const mail = await parseOk(corpusMail('mailparser/delivery-status.eml'));
    // Assess
    expect(mail.contentType).toBe('multipart/report');
    expect(mail.contentTypeParams['report-type']).toBe('delivery-status');
    expect(mail.text).toContain('An error occurred while trying to deliver the mail');
    expect(mail.attachments.map(({ contentType, size }) => [contentType, size])).toEqual([
      ['message/delivery-status', 461],
      ['message/rfc822', 1024],
    ]);
    const dsn = mail.attachments[0];
    expect((dsn === undefined ? '' : await readAll(await dsn.open())).toString()).toContain('Status: 5.1.1');
  });

  it('treats a single-part non-text mail as one attachment and no body', async () => {
    // Act
    const mail = await parseOk(corpusMail('mailparser/base64encodedroot.eml'));
    // Assess
    expect(mail.text).toBeUndefined();
    expect(mail.html).toBeUndefined();
    expect(mail.attachments).toMatchObject([
      { index: 0, filename: 'screenshot.png', contentType: 'image/png', size: 425 },
    ]);
  });

  it('a forwarded message/rfc822 part is an attachment, even an empty one', async () => {
    // Act
    const result = await parseFile(corpusMail('mailparser/decoderended.eml'));
    // Assess
    expect(parsedOf(result).attachments).toMatchObject([{ contentType: 'message/rfc822', size: 0 }]);
  });
});
