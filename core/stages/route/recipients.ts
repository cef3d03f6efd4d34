import type { Envelope, ParsedMail } from '../../model.ts';

/**
 * Where routing reads recipients from, in GitLab's order after `To`
 * (gems/gitlab-email_handler/lib/gitlab/email_handler/mail_key.rb@41946e65, gitlab-service-desk
 * §1.2). `Cc` is last: GitLab reads it too, and a customer who writes to a colleague with the desk
 * in Cc still reaches the desk.
 */
const FORWARDING_HEADERS = [
  'delivered-to',
  'x-delivered-to',
  'envelope-to',
  'x-envelope-to',
  'received',
  'x-original-to',
  'x-forwarded-to',
] as const;

export interface Recipients {
  /** `envelope`: SES `receipt.recipients` or the local SMTP session's RCPT TO; `headers`: neither was known. */
  source: 'envelope' | 'headers';
  /** Lowercased, without angle brackets, duplicates removed, in order of first appearance. */
  addresses: string[];
}

const normalize = (address: string): string => address.trim().replace(/^<|>$/g, '').trim().toLowerCase();

/** Addresses in a header value: every `<a@b>`, or else every bare `a@b` token. */
const addressesIn = (value: string): string[] => {
  const bracketed = [...value.matchAll(/<([^<>\s]+@[^<>\s]+)>/g)].map((match) => match[1] ?? '');
  if (bracketed.length > 0) return bracketed;
  return [...value.matchAll(/[^\s<>,;:"()]+@[^\s<>,;:"()]+/g)].map((match) => match[0]);
};

/**
 * `for <addr>` in a Received header. GitLab's `RECEIVED_HEADER_REGEX` (`/for\s+<([^<]+)>/`) wants
 * the brackets; SES writes `for recipient@example.com;` without them, so both are accepted.
 */
const receivedFor = (value: string): string[] =>
  [...value.matchAll(/\bfor\s+<?([^\s<>;@]+@[^\s<>;]+)/gi)].map((match) => match[1] ?? '');

/**
 * The addresses to route by. The envelope wins whenever it is known, and then it is the only
 * source: SES `receipt.recipients` are the RCPT TO addresses this receipt rule accepted, so they
 * include Bcc (which no header shows), name only our domains (To and Cc can name anyone), and
 * are where the mail was really delivered (a list or a forward leaves its own address in To). No
 * fallback to headers then: a mail delivered to one project must not reach another through a To
 * line the sender wrote. Headers are read only for a bare .eml with no envelope.
 */
export const collectRecipients = (mail: ParsedMail, envelope: Envelope): Recipients => {
  const seen = new Set<string>();
  const addresses: string[] = [];
  const add = (address: string): void => {
    const normalized = normalize(address);
    if (!normalized.includes('@') || seen.has(normalized)) return;
    seen.add(normalized);
    addresses.push(normalized);
  };

  if (envelope.recipients.length > 0) {
    for (const address of envelope.recipients) add(address);
    return { source: 'envelope', addresses };
  }

  for (const box of mail.to) add(box.address);
  for (const header of FORWARDING_HEADERS) {
    for (const value of mail.headers.get(header) ?? []) {
      for (const address of header === 'received' ? receivedFor(value) : addressesIn(value)) add(address);
    }
  }
  for (const box of mail.cc) add(box.address);
  return { source: 'headers', addresses };
};
