import addressparser from 'nodemailer/lib/addressparser';
import { isAddrSpec } from '../../address.ts';
import type { Mailbox, ParsedMail } from '../../model.ts';
import { pass, type StageResult, stop } from '../../trace.ts';
import { decodeEncodedWords } from '../parse/encoded-words.ts';

/**
 * Who wrote the mail: the one mailbox of the RFC 5322 From header, the identity DMARC evaluates and
 * the one Postdesk attributes a ticket or a comment to. It must be exactly one mailbox with a plain
 * addr-spec (RFC 5322 §3.6.2: From is a mailbox-list, and §3.4 a group is an address, not a
 * mailbox; RFC 2047 §5: an encoded word never appears in an addr-spec; RFC 7489 §6.6.1: a mail
 * with no From, several From headers, or several From mailboxes gives DMARC no one domain to
 * check). Anything else is not attributed to anyone: `from_missing` or `from_invalid`, and Sender
 * or Reply-To never stand in.
 *
 * The checks read the raw header value, before any decoding: a group (`g: Ada <ada@x>;,
 * mallory@y`), an encoded word in the address (`<=?utf-8?q?ada=40x?=>`) and an empty group
 * (`undisclosed-recipients:;`) are all refused, though a lenient parser would find "Ada" in each.
 */

/** The codes of the sender-identity rule, written here literally. */
export type SenderIdentityReason = 'sender_identified' | 'from_missing' | 'from_invalid';

export type SenderIdentity =
  | { ok: true; mailbox: Mailbox }
  | { ok: false; reason: Exclude<SenderIdentityReason, 'sender_identified'>; message: string };

const invalid = (message: string): SenderIdentity => ({ ok: false, reason: 'from_invalid', message });

export const senderIdentity = (fromValues: readonly string[]): SenderIdentity => {
  const values = fromValues.filter((value) => value.trim() !== '');
  if (values.length === 0) {
    return {
      ok: false,
      reason: 'from_missing',
      message: 'the mail has no From header: nobody can be named as its author (RFC 5322 §3.6 requires one)',
    };
  }
  if (values.length > 1) {
    return invalid(`the mail has ${values.length} From headers; RFC 5322 §3.6 allows exactly one`);
  }
  const raw = values[0] ?? '';
  const entries = addressparser(raw);
  if (entries.some((entry) => 'group' in entry && entry.group !== undefined)) {
    return invalid(
      'the From header uses group syntax ("name: ... ;"), which names no single author (RFC 5322 §3.4); a group can hide the mailbox authentication checked',
    );
  }
  if (entries.length !== 1) {
    return invalid(
      `the From header holds ${entries.length} mailboxes; Postdesk attributes a mail to exactly one (RFC 7489 §6.6.1)`,
    );
  }
  const entry = entries[0] as { address?: string; name?: string };
  const address = (entry.address ?? '').trim();
  if (address.includes('=?')) {
    return invalid('the From address is an RFC 2047 encoded word, which is never an address (RFC 2047 §5)');
  }
  if (address === '') return invalid('the From header names no address');
  if (!isAddrSpec(address)) {
    return invalid(
      `the From address ${JSON.stringify(address.slice(0, 200))} is not an addr-spec (RFC 5322 §3.4.1)`,
    );
  }
  const name = decodeEncodedWords((entry.name ?? '').trim())
    .text.replace(/\s+/g, ' ')
    .trim();
  return { ok: true, mailbox: { name, address } };
};

/**
 * The identity as a stage result, for the per-project policy stage: a mail routed to a project
 * whose From names nobody is kept for a person (quarantine), never attributed. Mail that reaches
 * no project is not held for this: it ends at route as any mail for nobody does.
 */
export const requireSenderIdentity = (mail: ParsedMail): StageResult<Mailbox> => {
  const from = mail.headers.get('from') ?? [];
  const author = senderIdentity(from);
  if (author.ok) return pass(author.mailbox, 'identified', 'sender_identified');
  return stop('quarantined', author.reason, `${author.message}.`, {
    from: from.slice(0, 2).map((value) => value.slice(0, 300)),
  });
};
