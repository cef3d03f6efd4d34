import { PassThrough, type Readable } from 'node:stream';
import type { Limits } from '../../config/schema.ts';
import { errorMessage, PermanentError, PostdeskError, TransientError } from '../../errors.ts';
import type { AttachmentMeta, ParsedMail } from '../../model.ts';
import { pass, type StageResult, stop } from '../../trace.ts';
import type { Stage } from '../contracts.ts';
import { MailRejectedError, RawReadError } from './errors.ts';
import {
  buildHeaderMap,
  decodeUnstructured,
  type HeaderDecodeHint,
  parseDate,
  parseMailboxes,
  parseMessageIds,
} from './headers.ts';
import { emptyMail, type ParseRejectReason, parserGaveUp, rawTooLarge } from './limits.ts';
import { type AttachmentPart, type WalkResult, walkMail } from './mime-walk.ts';
import { decodeTextPart } from './text-parts.ts';

/** Opens the raw mail as a stream (S3 object body, local file); called once per read. */
export type OpenRawMail = () => Promise<Readable>;

export interface ParseMailOptions {
  limits: Limits;
  /** Size of the raw mail in bytes when the store knows it (S3 `ContentLength`): checked before reading. */
  size?: number;
}

const openRaw = async (open: OpenRawMail): Promise<Readable> => {
  try {
    return await open();
  } catch (error) {
    // The store already said whether retrying helps (e.g. a missing object is permanent).
    if (error instanceof PostdeskError) throw error;
    throw new TransientError('raw_mail_unavailable', `Opening the raw mail failed: ${errorMessage(error)}`, {
      cause: error,
    });
  }
};

const readFailed = (error: RawReadError): PostdeskError => {
  const cause = error.cause;
  if (cause instanceof PostdeskError) return cause;
  return new TransientError('raw_mail_read_failed', `Reading the raw mail failed: ${error.message}`, {
    cause,
  });
};

/** Every reason code of the parse stage: `parsed`, or the rule in limits.ts that ended the mail. */
export type ParseReason = 'parsed' | ParseRejectReason;

/** Ends the mail as the rule decided (see limits.ts): rejected, or quarantined for bytes that are not a mail. */
const rejected = (error: MailRejectedError): StageResult<never, ParseRejectReason> =>
  stop(error.outcome, error.reason, error.message, error.detail);

/** Streams one attachment's decoded content by re-reading the raw mail (see `AttachmentMeta.open`). */
const openAttachment = async (open: OpenRawMail, limits: Limits, index: number): Promise<Readable> => {
  const source = await openRaw(open);
  const sink = new PassThrough();
  const controller = new AbortController();
  sink.once('close', () => controller.abort());
  walkMail(source, {
    limits,
    mode: { kind: 'extract', index, sink },
    signal: controller.signal,
  }).then(
    (result) => {
      if (result.extracted || sink.destroyed) return;
      sink.destroy(
        new PermanentError('attachment_unavailable', `The raw mail no longer holds attachment ${index}.`),
      );
    },
    (error: unknown) => {
      if (sink.destroyed) return;
      if (error instanceof RawReadError) sink.destroy(readFailed(error));
      else {
        sink.destroy(
          new PermanentError(
            'attachment_unavailable',
            `Attachment ${index} could not be re-read: ${errorMessage(error)}`,
            { cause: error },
          ),
        );
      }
    },
  );
  return sink;
};

const toAttachmentMeta = (open: OpenRawMail, limits: Limits, part: AttachmentPart): AttachmentMeta => ({
  index: part.index,
  filename: part.filename,
  contentType: part.contentType,
  contentId: part.contentId,
  disposition: part.disposition,
  size: part.size,
  related: part.related,
  open: () => openAttachment(open, limits, part.index),
});

const toParsedMail = (walk: WalkResult, open: OpenRawMail, limits: Limits): ParsedMail => {
  const warnings = [...walk.warnings];
  const texts: string[] = [];
  const htmls: string[] = [];
  let repaired = false;
  for (const part of walk.texts) {
    const decoded = decodeTextPart(part, warnings);
    repaired ||= decoded.repaired;
    (part.contentType === 'text/plain' ? texts : htmls).push(decoded.text);
  }

  // Raw 8-bit header bytes are read with the mail's own charset as a hint (RFC 6532 allows only UTF-8).
  const hint: HeaderDecodeHint = {
    charset: walk.rootContentType.params['charset'] ?? walk.texts[0]?.charset,
    repairDoubleEncoding: repaired,
  };
  const headerWarnings: string[] = [];
  const headers = buildHeaderMap(walk.rootLines, hint, headerWarnings);
  warnings.push(...new Set(headerWarnings));

  const all = (name: string): string[] => headers.get(name) ?? [];
  const first = (name: string): string | undefined => headers.get(name)?.[0];
  const mailboxes = (name: string) => all(name).flatMap((value) => parseMailboxes(name, value, warnings));
  const subject = first('subject');
  const messageId = first('message-id');
  const date = first('date');

  return {
    headers,
    from: mailboxes('from'),
    replyTo: mailboxes('reply-to'),
    sender: mailboxes('sender')[0],
    to: mailboxes('to'),
    cc: mailboxes('cc'),
    subject: subject === undefined ? undefined : decodeUnstructured('subject', subject, warnings),
    messageId:
      messageId === undefined
        ? undefined
        : (parseMessageIds(messageId)[0] ?? (messageId.replace(/^<|>$/g, '').trim() || undefined)),
    inReplyTo: all('in-reply-to').flatMap(parseMessageIds),
    references: [...new Set(all('references').flatMap(parseMessageIds))],
    date: date === undefined ? undefined : parseDate(date),
    // RFC 2045 §5.2: no (or an empty) Content-Type means text/plain.
    contentType: walk.rootContentType.value === '' ? 'text/plain' : walk.rootContentType.value,
    contentTypeParams: walk.rootContentType.params,
    text: texts.length === 0 ? undefined : texts.join('\n'),
    html: htmls.length === 0 ? undefined : htmls.join('\n'),
    attachments: walk.attachments.map((part) => toAttachmentMeta(open, limits, part)),
    size: walk.bytes,
    warnings,
  };
};

/**
 * The parse stage: MIME to `ParsedMail`, streaming. Caps are checked before parsing (`size`)
 * and while the bytes flow; attachments are counted and dropped, and re-read on demand through
 * `AttachmentMeta.open()`. Bad input never throws: it ends with `stop('rejected', reason, ...)`.
 * Only a failure to open or read the raw mail throws (a `TransientError`, unless the store
 * already threw a `PostdeskError`).
 */
export const parseMail = async (
  open: OpenRawMail,
  options: ParseMailOptions,
): Promise<StageResult<ParsedMail, ParseReason>> => {
  const { limits, size } = options;
  if (size !== undefined && size > limits.max_raw_bytes) return rejected(rawTooLarge(limits, size, true));
  if (size === 0) return rejected(emptyMail());
  const source = await openRaw(open);
  let walk: WalkResult;
  try {
    walk = await walkMail(source, { limits, mode: { kind: 'scan' } });
  } catch (error) {
    if (error instanceof MailRejectedError) return rejected(error);
    if (error instanceof RawReadError) throw readFailed(error);
    return rejected(parserGaveUp(error));
  }
  const parsed = toParsedMail(walk, open, limits);
  return pass(parsed, 'parsed', 'parsed', {
    parts: walk.parts,
    attachments: parsed.attachments.length,
    bytes: walk.bytes,
    warnings: parsed.warnings.length,
  });
};

/** The parse stage: the raw mail (opened on demand) and its size, parsed under the desk's limits. */
export const parseStage: Stage<{ open: OpenRawMail; size?: number }, ParsedMail, ParseReason, 'config'> = (
  input,
  context,
) =>
  parseMail(input.open, {
    limits: context.config.limits,
    ...(input.size === undefined ? {} : { size: input.size }),
  });
