import { once } from 'node:events';
import { PassThrough, type Readable, type Transform } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import type { MimeNode, SplitterChunk } from '@zone-eu/mailsplit';
import { Splitter } from '@zone-eu/mailsplit';
import type { Limits } from '../../config/schema.ts';
import { needsDecoding } from './charset.ts';
import { type MailRejectedError, RawReadError, WalkDoneError } from './errors.ts';
import { parseStructuredHeader, type StructuredHeader } from './header-params.ts';
import { fieldName, type RawHeaderLine, rawValue } from './headers.ts';
import {
  duplicateHeader,
  headerTooLarge,
  mimeTooDeep,
  RawMailGuard,
  tooManyParts,
  unparseable,
} from './limits.ts';

/**
 * One streaming walk over a raw mail with mailsplit's `Splitter` (the splitter inside
 * mailparser's `MailParser`, used directly so the raw bytes of every part reach our charset
 * rules and the tree's shape reaches our caps). Transfer encodings are undone by the splitter's
 * own decoders (libbase64, libqp).
 *
 * - `scan`: text parts are collected (they become the body); attachments are counted as they
 *   flow and their bytes dropped, so no attachment is ever held in memory.
 * - `extract`: the same walk, but the attachment with the wanted index is piped to `sink` with
 *   backpressure; every other part is drained, and the walk stops once that attachment ends.
 *
 * Both walks number attachments identically, so an index from `scan` finds the same part later.
 * `message/rfc822` parts are leaves (`ignoreEmbedded`): a forwarded mail is an attachment.
 */

export interface TextPart {
  contentType: 'text/plain' | 'text/html';
  bytes: Buffer;
  charset: string | undefined;
  flowed: boolean;
  delSp: boolean;
  /** IMAP-style part number, for warnings (`1.2`). */
  part: string;
}

export interface AttachmentPart {
  index: number;
  filename: string | undefined;
  contentType: string;
  contentId: string | undefined;
  disposition: 'attachment' | 'inline' | undefined;
  size: number;
  related: boolean;
}

export type WalkMode = { kind: 'scan' } | { kind: 'extract'; index: number; sink: PassThrough };

export interface WalkResult {
  rootLines: RawHeaderLine[];
  rootContentType: StructuredHeader;
  texts: TextPart[];
  attachments: AttachmentPart[];
  bytes: number;
  parts: number;
  warnings: string[];
  /** In `extract` mode: whether the wanted attachment was found and streamed. */
  extracted: boolean;
}

interface NodeShape {
  depth: number;
  /** Some ancestor is multipart/related. */
  related: boolean;
}

interface Leaf {
  node: MimeNode;
  decoder: Transform;
  /** Settles when the decoder has flushed; rejections are also seen where it is awaited. */
  ended: Promise<unknown>;
  finish: () => void;
}

const partNumber = (node: MimeNode): string => {
  const numbers = (node.partNr === false ? [] : node.partNr).filter((item) => typeof item === 'number');
  return numbers.length === 0 ? '1' : numbers.join('.');
};

const firstRaw = (lines: readonly RawHeaderLine[], key: string): string | undefined => {
  const line = lines.find((candidate) => candidate.key === key);
  return line === undefined ? undefined : rawValue(line.line);
};

const headerLines = (node: MimeNode): RawHeaderLine[] => {
  if (node.headers === false) return [];
  const lines = node.headers.getList().map(({ key, line }) => ({ key, line }));
  // mailsplit sets a first line matching /^From /i aside as an mbox separator. `From : x` (WSP
  // before the colon, RFC 5322 §4.5.x obsolete syntax) is a From field to mailauth and to MTAs:
  // hidden here, a second From would pass as the only one, and DMARC and Postdesk would each
  // name another author. An mbox separator (`From sender date`) never has a colon after `From`.
  const mbox: unknown = (node.headers as { mbox?: unknown }).mbox;
  if (typeof mbox === 'string' && /^from[ \t]*:/i.test(mbox)) lines.unshift({ key: 'from', line: mbox });
  return lines;
};

/** `once(stream, 'end')`, with its rejection marked handled: it is awaited later, or the walk died first. */
const endOf = (stream: Transform): Promise<unknown> => {
  const ended = once(stream, 'end');
  ended.catch(() => undefined);
  return ended;
};

const EMPTY_HEADER: StructuredHeader = { value: '', params: Object.create(null), notes: [] };

/** What mailsplit's EMAXLEN errors mean, in our reason codes. */
const fromSplitterError = (error: unknown, limits: Limits, parts: number): MailRejectedError | undefined => {
  if (!(error instanceof Error) || (error as Error & { code?: unknown }).code !== 'EMAXLEN') return undefined;
  if (/header/i.test(error.message)) return headerTooLarge(limits);
  if (/child nodes/i.test(error.message))
    return tooManyParts(limits, Math.max(parts, limits.max_parts), false);
  return undefined;
};

class MimeWalker {
  readonly result: WalkResult = {
    rootLines: [],
    rootContentType: EMPTY_HEADER,
    texts: [],
    attachments: [],
    bytes: 0,
    parts: 0,
    warnings: [],
    extracted: false,
  };
  /**
   * Why the walk ended early, if it did. Kept here because once the consumer throws, the streams
   * are torn down and `pipeline` may reject with that teardown (an AbortError) instead.
   */
  failure: unknown;
  /** The mail's own charset (top-level, or the first text part's): the hint for raw 8-bit headers. */
  private mailCharset: string | undefined;
  private readonly shapes = new WeakMap<MimeNode, NodeShape>();
  private leaf: Leaf | undefined;
  private readonly limits: Limits;
  private readonly mode: WalkMode;
  private readonly signal: AbortSignal | undefined;

  constructor(limits: Limits, mode: WalkMode, signal: AbortSignal | undefined) {
    this.limits = limits;
    this.mode = mode;
    this.signal = signal;
  }

  async handle(chunk: SplitterChunk): Promise<void> {
    try {
      await this.handleChunk(chunk);
    } catch (error) {
      this.failure ??= error;
      throw error;
    }
  }

  async end(): Promise<void> {
    try {
      await this.endLeaf();
    } catch (error) {
      this.failure ??= error;
      throw error;
    }
  }

  private async handleChunk(chunk: SplitterChunk): Promise<void> {
    if (chunk.type === 'node') {
      await this.onNode(chunk);
      return;
    }
    const leaf = this.leaf;
    // Body bytes of the current leaf; `data` only for a multipart read as a leaf (no boundary).
    if (leaf === undefined || chunk.node !== leaf.node) return;
    if (chunk.type === 'data' && leaf.node.multipart === false) return;
    if (!leaf.decoder.write(chunk.value)) {
      // The signal frees a re-read whose reader went away while we waited for it.
      await once(leaf.decoder, 'drain', this.signal === undefined ? {} : { signal: this.signal });
    }
  }

  private async onNode(node: MimeNode): Promise<void> {
    await this.endLeaf();
    const result = this.result;
    result.parts++;
    if (result.parts > this.limits.max_parts) throw tooManyParts(this.limits, result.parts, true);

    const parent = node.parentNode === false ? undefined : this.shapes.get(node.parentNode);
    const depth = parent === undefined ? 0 : parent.depth + 1;
    if (depth > this.limits.max_mime_depth) throw mimeTooDeep(this.limits, depth);
    const parentMultipart = node.parentNode === false ? false : node.parentNode.multipart;
    const related = parent !== undefined && (parent.related || parentMultipart === 'related');
    this.shapes.set(node, { depth, related });

    const lines = headerLines(node);
    const rawContentType = firstRaw(lines, 'content-type') ?? '';
    let contentType = parseStructuredHeader(rawContentType);
    const charset = contentType.params['charset'];
    if (node.root) this.onRoot(lines, contentType);
    this.mailCharset ??= charset;
    const part = partNumber(node);
    if (node.multipart !== false) {
      if (node._boundary !== false) return;
      // A multipart without a boundary has no parts; its body would be lost, so read it as text.
      result.warnings.push(`part ${part}: multipart/${node.multipart} without a boundary; read as text`);
    }

    // Raw 8-bit file names are read with the part's charset, else the mail's (Shift_JIS mail
    // names its attachments in Shift_JIS).
    const hint = charset ?? this.mailCharset;
    if (hint !== undefined && needsDecoding(rawContentType))
      contentType = parseStructuredHeader(rawContentType, hint);
    const disposition = parseStructuredHeader(firstRaw(lines, 'content-disposition') ?? '', hint);
    for (const note of [...contentType.notes, ...disposition.notes]) {
      result.warnings.push(`part ${part}: ${note}`);
    }
    const type = node.contentType === false || node.multipart !== false ? 'text/plain' : node.contentType;
    const dispositionValue =
      disposition.value === '' ? undefined : disposition.value === 'inline' ? 'inline' : 'attachment';
    const filename = disposition.params['filename'] ?? contentType.params['name'];
    const isBody =
      (type === 'text/plain' || type === 'text/html') &&
      dispositionValue !== 'attachment' &&
      (filename === undefined || parentMultipart === 'alternative');

    const decoder = node.getDecoder();
    if (isBody) {
      this.startText(node, decoder, type, charset, part);
    } else {
      const contentId = firstRaw(lines, 'content-id')?.replace(/[<>\s]/g, '');
      this.startAttachment(node, decoder, {
        index: result.attachments.length,
        filename,
        contentType: type,
        contentId: contentId === '' ? undefined : contentId,
        disposition: dispositionValue,
        size: 0,
        related,
      });
    }
  }

  private onRoot(lines: RawHeaderLine[], contentType: StructuredHeader): void {
    const valid = lines.filter(({ line }) => fieldName(line) !== undefined);
    if (valid.length === 0) throw unparseable('its first block holds no header field');
    if (valid.length < lines.length - valid.length) {
      throw unparseable('most lines of its header block are not header fields');
    }
    if (lines.some(({ line }) => line.includes('\x00')))
      throw unparseable('its header block holds NUL bytes');
    // RFC 5322 §3.6: one From, one Subject. A second From can show one sender and route as another.
    const count = (key: string): number => valid.filter((line) => line.key === key).length;
    const froms = count('from');
    if (froms > 1) throw duplicateHeader('From', froms);
    const subjects = count('subject');
    if (subjects > 1) throw duplicateHeader('Subject', subjects);
    this.result.rootLines = lines;
    this.result.rootContentType = contentType;
  }

  private startText(
    node: MimeNode,
    decoder: Transform,
    contentType: 'text/plain' | 'text/html',
    charset: string | undefined,
    part: string,
  ): void {
    const chunks: Buffer[] = [];
    // A re-read for one attachment needs no text: drain it.
    if (this.mode.kind === 'scan') decoder.on('data', (data: Buffer) => chunks.push(data));
    else decoder.resume();
    this.leaf = {
      node,
      decoder,
      ended: endOf(decoder),
      finish: () => {
        if (this.mode.kind !== 'scan') return;
        this.result.texts.push({
          contentType,
          bytes: Buffer.concat(chunks),
          charset,
          flowed: node.flowed,
          delSp: node.delSp,
          part,
        });
      },
    };
  }

  private startAttachment(node: MimeNode, decoder: Transform, attachment: AttachmentPart): void {
    const mode = this.mode;
    const wanted = mode.kind === 'extract' && mode.index === attachment.index;
    decoder.on('data', (data: Buffer) => {
      attachment.size += data.length;
    });
    if (wanted) decoder.pipe(mode.sink, { end: false });
    this.result.attachments.push(attachment);
    this.leaf = {
      node,
      decoder,
      ended: endOf(decoder),
      finish: () => {
        if (!wanted) return;
        this.result.extracted = true;
        if (!mode.sink.destroyed) mode.sink.end();
        throw new WalkDoneError();
      },
    };
  }

  private async endLeaf(): Promise<void> {
    const leaf = this.leaf;
    if (leaf === undefined) return;
    this.leaf = undefined;
    leaf.decoder.end();
    await leaf.ended;
    leaf.finish();
  }
}

export interface WalkOptions {
  limits: Limits;
  mode: WalkMode;
  signal?: AbortSignal | undefined;
}

/**
 * Walks the raw mail. Rejections (caps, not a mail) are thrown as `MailRejectedError`, failures
 * of the raw mail's stream as `RawReadError`; an early end of an `extract` walk is not an error.
 * The source is always destroyed at the end, so a walk cut short releases the S3 connection.
 */
export const walkMail = async (source: Readable, options: WalkOptions): Promise<WalkResult> => {
  const { limits, mode } = options;
  const guard = new RawMailGuard(limits);
  // One more than the cap, so our own count (which knows the exact number) speaks first.
  const splitter = new Splitter({
    maxHeadSize: limits.max_header_bytes,
    maxChildNodes: limits.max_parts + 1,
    ignoreEmbedded: true,
  });
  const walker = new MimeWalker(limits, mode, options.signal);
  // The source stays outside the pipeline: its own errors are tagged on the way in, and it is
  // destroyed here rather than by the pipeline's teardown (which cannot reach a stalled read).
  const tap = new PassThrough();
  source.on('error', (error: unknown) => tap.destroy(new RawReadError(error)));
  source.pipe(tap);
  try {
    await pipeline(
      tap,
      guard,
      splitter,
      async function walkChunks(chunks: AsyncIterable<SplitterChunk>) {
        for await (const chunk of chunks) await walker.handle(chunk);
        await walker.end();
      },
      options.signal === undefined ? {} : { signal: options.signal },
    );
  } catch (error) {
    const cause = walker.failure ?? error;
    if (!(cause instanceof WalkDoneError))
      throw fromSplitterError(cause, limits, walker.result.parts) ?? cause;
  } finally {
    source.unpipe(tap);
    source.destroy();
  }
  walker.result.bytes = guard.bytes;
  return walker.result;
};
