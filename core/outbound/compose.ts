import { randomUUID } from 'node:crypto';
import MailComposer from 'nodemailer/lib/mail-composer';
import { isPlainAddress } from '../address.ts';
import type { FetchedUpload } from './attachments.ts';
import { LOOP_HEADER, MAX_REFERENCES, type OutboundKind } from './constants.ts';

/**
 * Builds the raw MIME of one outbound mail with nodemailer's MailComposer, never by string
 * concatenation. Every text that reaches a header (issue title, author name, participant name) is
 * first passed through `headerText`, and every address through `isPlainAddress`, so a title with a
 * CR/LF, a NUL or an RFC 2047 encoded word cannot add a header or smuggle one in after decoding.
 *
 * Header policy (gitlab-service-desk.md §1.1, §5.3; helpdesk-peers.md §11.2):
 * - `X-Postdesk-Loop: <desk domain>` on every mail: the inbound classifier drops mail carrying it.
 * - `Auto-Submitted: auto-generated` and `X-Auto-Response-Suppress: All` on automatic mail only
 *   (thank_you, new_participant), as GitLab sets them. A team member's note is a human message:
 *   marking it automatic would make the customer's client suppress a real reply or file it away.
 * - `In-Reply-To` = the ticket's first inbound Message-ID; `References` = that id, the previous
 *   outbound ids and this mail's own id (see `composeMail`), so every client threads the mail and
 *   the customer's reply carries an id we know even after SES replaced our Message-ID.
 * - `List-Unsubscribe` and `List-Unsubscribe-Post: List-Unsubscribe=One-Click` (RFC 8058) when the
 *   desk has a public URL.
 */

export interface MailAddress {
  name?: string | undefined;
  address: string;
}

export interface ComposeInput {
  kind: OutboundKind;
  from: MailAddress;
  to: MailAddress;
  /** The participant's signed reply address. */
  replyTo: string;
  subject: string;
  /** Our Message-ID, with angle brackets (`newMessageId`). SES replaces it; we still index it. */
  messageId: string;
  /** The ticket's original inbound Message-ID (with or without angle brackets). */
  inReplyTo?: string | undefined;
  /** Earlier ids of the thread, oldest first (with or without angle brackets). */
  references?: readonly string[] | undefined;
  /** The desk domain, the value of the loop header. */
  loopDomain: string;
  unsubscribeUrl?: string | undefined;
  html: string;
  text: string;
  attachments?: readonly FetchedUpload[] | undefined;
  date: Date;
}

export interface ComposedMail {
  raw: Buffer;
  /** Our Message-ID with angle brackets. */
  messageId: string;
}

/** Automatic mail gets the RFC 3834 / Exchange auto headers; a human's note does not. */
export const isAutomatic = (kind: OutboundKind): boolean => kind !== 'new_note';

/**
 * Makes any text safe to put in a header: control characters (C0 incl. CR, LF, NUL, TAB; C1; the
 * Unicode line and paragraph separators) become spaces, bidi overrides are dropped, `=?` is broken
 * with a zero-width space so a literal encoded word is sent encoded and decodes to itself, runs of
 * white space collapse, and the length is capped (in code points, never splitting a pair).
 */
export const headerText = (value: string, maxChars = 250): string => {
  const cleaned = value
    // biome-ignore lint/suspicious/noControlCharactersInRegex: removing control characters is the point
    .replace(/[\u0000-\u001f\u007f-\u009f\u2028\u2029]/g, ' ')
    .replace(/[\u200e\u200f\u202a-\u202e\u2066-\u2069\ufeff]/g, '')
    .replace(/=\?/g, '=\u200b?')
    .replace(/\s+/g, ' ')
    .trim();
  const chars = Array.from(cleaned);
  return chars.length <= maxChars ? cleaned : `${chars.slice(0, maxChars - 1).join('')}…`;
};

export { isPlainAddress };

/** `<id>` from `id` or `<id>`; undefined for anything that is not a plausible msg-id. */
export const bracketId = (id: string): string | undefined => {
  const bare = id.trim().replace(/^<|>$/g, '');
  if (!/^[^\s<>"@]{1,200}@[^\s<>"@]{1,200}$/.test(bare)) return undefined;
  return `<${bare}>`;
};

/** A fresh Message-ID at the desk domain: `<postdesk.<kind>.<uuid>@<domain>>`. */
export const newMessageId = (kind: OutboundKind, domain: string): string =>
  `<postdesk.${kind}.${randomUUID()}@${domain.toLowerCase()}>`;

/** GitLab's subjects: `Re: <title> (#<iid>)` for the thank-you, and `Re: ` + `<title> (#<iid>)` on answers. */
export const subjectFor = (_kind: OutboundKind, title: string, iid: number): string =>
  headerText(`Re: ${title} (#${iid})`, 300);

/** The From display name: the project's outgoing name, or "<author> via <outgoing name>" on a note (GitLab). */
export const fromNameFor = (
  kind: OutboundKind,
  outgoingName: string,
  authorName?: string | undefined,
): string => {
  const desk = headerText(outgoingName, 120);
  const author = authorName === undefined ? '' : headerText(authorName, 120);
  return kind === 'new_note' && author !== '' ? `${author} via ${desk}` : desk;
};

const cleanAddress = (box: MailAddress, what: string): { name: string; address: string } => {
  if (!isPlainAddress(box.address)) throw new TypeError(`${what} is not a plain email address`);
  return { name: box.name === undefined ? '' : headerText(box.name, 120), address: box.address };
};

/**
 * References, oldest first, de-duplicated, at most MAX_REFERENCES: the first (the thread's root)
 * is always kept, then the most recent ones (RFC 5322 §3.6.4 lets the middle be trimmed).
 */
export const referencesFor = (ids: readonly string[]): string[] => {
  const unique: string[] = [];
  for (const id of ids) {
    const bracketed = bracketId(id);
    if (bracketed && !unique.includes(bracketed)) unique.push(bracketed);
  }
  if (unique.length <= MAX_REFERENCES) return unique;
  const [root, ...rest] = unique;
  return root === undefined ? [] : [root, ...rest.slice(rest.length - (MAX_REFERENCES - 1))];
};

export const composeMail = async (input: ComposeInput): Promise<ComposedMail> => {
  const from = cleanAddress(input.from, 'From');
  const to = cleanAddress(input.to, 'To');
  if (!isPlainAddress(input.replyTo)) throw new TypeError('Reply-To is not a plain email address');
  const messageId = bracketId(input.messageId);
  if (!messageId) throw new TypeError('Message-ID is not a msg-id');
  if (!/^[A-Za-z0-9.-]{1,253}$/.test(input.loopDomain)) throw new TypeError('loop domain is not a domain');

  const inReplyTo = input.inReplyTo === undefined ? undefined : bracketId(input.inReplyTo);
  // Our own id goes last in References: SES rewrites Message-ID but keeps References, and a reply
  // copies References, so it comes back with an id we minted and indexed, whatever SES named it.
  const references = referencesFor([
    ...(inReplyTo ? [inReplyTo] : []),
    ...(input.references ?? []),
    messageId,
  ]);

  const headers: Record<string, string> = { [LOOP_HEADER]: input.loopDomain.toLowerCase() };
  if (isAutomatic(input.kind)) {
    headers['Auto-Submitted'] = 'auto-generated';
    headers['X-Auto-Response-Suppress'] = 'All';
  }
  if (input.unsubscribeUrl !== undefined && /^https?:\/\/[^\s<>"]+$/i.test(input.unsubscribeUrl)) {
    headers['List-Unsubscribe'] = `<${input.unsubscribeUrl}>`;
    headers['List-Unsubscribe-Post'] = 'List-Unsubscribe=One-Click';
  }

  const composer = new MailComposer({
    from,
    to,
    replyTo: input.replyTo,
    subject: headerText(input.subject, 300),
    messageId,
    ...(inReplyTo ? { inReplyTo } : {}),
    references,
    date: input.date,
    text: input.text,
    html: input.html,
    headers,
    attachments: (input.attachments ?? []).map((file) => ({
      filename: headerText(file.filename, 200) || 'attachment',
      contentType: /^[a-z0-9!#$&^_.+-]+\/[a-z0-9!#$&^_.+-]+$/i.test(file.contentType)
        ? file.contentType
        : 'application/octet-stream',
      content: file.content,
    })),
    // Nothing in a composed mail may make nodemailer read a file or a URL.
    disableFileAccess: true,
    disableUrlAccess: true,
    newline: 'windows',
  });
  const raw = await composer.compile().build();
  return { raw, messageId };
};
