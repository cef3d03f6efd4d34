import { Transform, type TransformCallback } from 'node:stream';
import type { Limits } from '../../config/schema.ts';
import { errorMessage } from '../../errors.ts';
import { LimitKey, SNIFF_BYTES } from './constants.ts';
import { MailRejectedError } from './errors.ts';

/**
 * The size caps and the first look at the input. Every message names the limit, the value met
 * and the config key to raise, because the person reading a rejected mail's trace is the one who
 * can change the config.
 *
 * A cap or a duplicate header is the sender's to fix, so the mail is rejected (a reply is safe to
 * send). Bytes that are not a mail at all are quarantined instead: a person should look at them,
 * and nobody can be told (there is no trustworthy sender to reply to).
 */

/** Every reason code that ends a mail in the parse stage; each is built by one function below. */
export type ParseRejectReason =
  | 'raw_too_large'
  | 'header_too_large'
  | 'mime_too_deep'
  | 'too_many_parts'
  | 'duplicate_from'
  | 'duplicate_subject'
  | 'empty_mail'
  | 'unparseable';

const mb = (bytes: number): string => `${(bytes / (1024 * 1024)).toFixed(1)} MB`;

export const rawTooLarge = (limits: Limits, size: number, exact: boolean): MailRejectedError =>
  new MailRejectedError(
    'raw_too_large',
    'rejected',
    `The mail is ${exact ? '' : 'more than '}${size} bytes (${mb(size)}), over the limit of ` +
      `${limits.max_raw_bytes} bytes (${mb(limits.max_raw_bytes)}); raise ${LimitKey.max_raw_bytes} to accept it.`,
    { limit: 'max_raw_bytes', value: size, max: limits.max_raw_bytes, key: LimitKey.max_raw_bytes },
  );

export const headerTooLarge = (limits: Limits): MailRejectedError =>
  new MailRejectedError(
    'header_too_large',
    'rejected',
    `A MIME header block is larger than the limit of ${limits.max_header_bytes} bytes; ` +
      `raise ${LimitKey.max_header_bytes} to accept it.`,
    {
      limit: 'max_header_bytes',
      value: `> ${limits.max_header_bytes}`,
      max: limits.max_header_bytes,
      key: LimitKey.max_header_bytes,
    },
  );

/** Same reason as a header block over `max_header_bytes`: the sender's header is too big to read. */
export const headerTooManyLines = (limits: Limits): MailRejectedError =>
  new MailRejectedError(
    'header_too_large',
    'rejected',
    `The header block has more than ${limits.max_header_lines} lines, the limit ` +
      `(folded lines count one by one); raise ${LimitKey.max_header_lines} to accept it.`,
    {
      limit: 'max_header_lines',
      value: `> ${limits.max_header_lines}`,
      max: limits.max_header_lines,
      key: LimitKey.max_header_lines,
    },
  );

/**
 * Measures the top header block (RFC 5322 §2.1: up to the first empty line) on the raw bytes, as
 * they come, and stops at the first cap it crosses: `max_header_bytes`, then `max_header_lines`.
 * One pass over each byte, no string built: it runs before anything that parses headers
 * (mailauth's header parser is superlinear in continuation lines: 10,000 folded lines take
 * 0.2 s, 40,000 take half a minute), so nothing quadratic ever sees an over-cap header.
 */
export class HeaderBlockMeter {
  /** Bytes of the header block seen so far (its end included once `done`). */
  bytes = 0;
  /** Line breaks seen in the header block so far. */
  lines = 0;
  /** True once the empty line that ends the header block was seen. */
  done = false;
  private readonly limits: Limits;
  /** Bytes since the last LF, not counting CR: 0 right after a line break. */
  private lineLength = 0;

  constructor(limits: Limits) {
    this.limits = limits;
  }

  /** Feeds the next bytes; returns the cap they crossed, if any. Bytes after the block are ignored. */
  feed(chunk: Uint8Array): MailRejectedError | undefined {
    if (this.done) return undefined;
    const { max_header_bytes, max_header_lines } = this.limits;
    for (let index = 0; index < chunk.length; index += 1) {
      this.bytes += 1;
      const byte = chunk[index];
      if (byte === 0x0a) {
        if (this.lineLength === 0) {
          this.done = true;
          return undefined;
        }
        this.lines += 1;
        this.lineLength = 0;
        if (this.lines > max_header_lines) return headerTooManyLines(this.limits);
      } else if (byte !== 0x0d) this.lineLength += 1;
      if (this.bytes > max_header_bytes) return headerTooLarge(this.limits);
    }
    return undefined;
  }
}

/** The header caps over a whole raw mail in memory (the local verdict source); see HeaderBlockMeter. */
export const rawHeaderOverCaps = (raw: Uint8Array, limits: Limits): MailRejectedError | undefined =>
  new HeaderBlockMeter(limits).feed(raw);

export const mimeTooDeep = (limits: Limits, depth: number): MailRejectedError =>
  new MailRejectedError(
    'mime_too_deep',
    'rejected',
    `MIME parts are nested ${depth} levels deep, over the limit of ${limits.max_mime_depth}; ` +
      `raise ${LimitKey.max_mime_depth} to accept it.`,
    { limit: 'max_mime_depth', value: depth, max: limits.max_mime_depth, key: LimitKey.max_mime_depth },
  );

export const tooManyParts = (limits: Limits, parts: number, exact: boolean): MailRejectedError =>
  new MailRejectedError(
    'too_many_parts',
    'rejected',
    `The mail has ${exact ? '' : 'more than '}${parts} MIME parts, over the limit of ${limits.max_parts}; ` +
      `raise ${LimitKey.max_parts} to accept it.`,
    { limit: 'max_parts', value: parts, max: limits.max_parts, key: LimitKey.max_parts },
  );

export const duplicateHeader = (header: 'From' | 'Subject', count: number): MailRejectedError =>
  new MailRejectedError(
    header === 'From' ? 'duplicate_from' : 'duplicate_subject',
    'rejected',
    `The mail has ${count} ${header} headers; RFC 5322 allows one` +
      (header === 'From' ? ', and a second one can hide the real sender.' : '.'),
    { header, count },
  );

export const emptyMail = (): MailRejectedError =>
  new MailRejectedError('empty_mail', 'rejected', 'The mail is empty: it has no header and no body.');

/** Not a mail at all: quarantined for a person to look at. */
export const unparseable = (why: string): MailRejectedError =>
  new MailRejectedError('unparseable', 'quarantined', `This is not a mail: ${why}.`, { why });

/**
 * Looked like a mail, but mailsplit or a decoder gave up on it: bad input, so rejected (a value,
 * never a throw), with the parser's error.
 */
export const parserGaveUp = (error: unknown): MailRejectedError =>
  new MailRejectedError('unparseable', 'rejected', `The mail could not be parsed: ${errorMessage(error)}.`, {
    error: errorMessage(error),
  });

/** Header line or mbox `From ` separator (RFC 5322 §2.2 field name, then optional WSP and `:`). */
const FIRST_LINE = /^(?:From |[\x21-\x39\x3b-\x7e]+[ \t]*:)/;
const isWhitespace = (byte: number): boolean =>
  byte === 0x20 || byte === 0x09 || byte === 0x0d || byte === 0x0a;

/**
 * Counts bytes as they flow (a mail whose size was unknown still stops at `max_raw_bytes`) and
 * checks that the input starts like a mail before the MIME splitter sees it, so binary garbage
 * gets `unparseable` instead of a misleading `header_too_large`; then measures the top header
 * block (HeaderBlockMeter) before the splitter parses it. Holds at most `SNIFF_BYTES`.
 */
export class RawMailGuard extends Transform {
  /** Bytes seen so far. */
  bytes = 0;
  private readonly limits: Limits;
  private sniffed = false;
  private held: Buffer[] = [];
  private heldBytes = 0;
  private readonly header: HeaderBlockMeter;

  constructor(limits: Limits) {
    super();
    this.limits = limits;
    this.header = new HeaderBlockMeter(limits);
  }

  override _transform(chunk: Buffer, _encoding: BufferEncoding, callback: TransformCallback): void {
    this.bytes += chunk.length;
    if (this.bytes > this.limits.max_raw_bytes) {
      callback(rawTooLarge(this.limits, this.bytes, false));
      return;
    }
    if (this.sniffed) {
      callback(this.header.feed(chunk) ?? null, chunk);
      return;
    }
    this.held.push(chunk);
    this.heldBytes += chunk.length;
    const head = Buffer.concat(this.held, this.heldBytes);
    const lineEnd = head.indexOf(0x0a);
    if (lineEnd < 0 && head.length < SNIFF_BYTES) {
      this.held = [head];
      callback();
      return;
    }
    this.release(head, callback);
  }

  override _flush(callback: TransformCallback): void {
    if (!this.sniffed) {
      const head = Buffer.concat(this.held, this.heldBytes);
      if (head.every(isWhitespace)) {
        callback(emptyMail());
        return;
      }
      this.release(head, callback);
      return;
    }
    callback();
  }

  private release(head: Buffer, callback: TransformCallback): void {
    const firstNonBlank = head.findIndex((byte) => !isWhitespace(byte));
    if (firstNonBlank < 0) {
      // Only white space so far: drop it; the mail is empty unless something else follows.
      this.held = [];
      this.heldBytes = 0;
      callback();
      return;
    }
    if (firstNonBlank > 0 || this.bytes > head.length) {
      callback(unparseable('it starts with blank lines or white space, so it has no header block'));
      return;
    }
    const window = head.subarray(0, SNIFF_BYTES);
    const lineEnd = window.indexOf(0x0a);
    const firstLine = window.subarray(0, lineEnd < 0 ? window.length : lineEnd).toString('latin1');
    if (firstLine.includes('\x00') || !FIRST_LINE.test(firstLine)) {
      callback(unparseable('it does not start with a header line (binary data or plain text)'));
      return;
    }
    this.sniffed = true;
    this.held = [];
    this.heldBytes = 0;
    callback(this.header.feed(head) ?? null, head);
  }
}
