import type { ParsedMail } from '../../model.ts';
import { headerValues, localPart } from './headers.ts';

/**
 * Local parts that never read mail: no-reply senders in their common spellings (with any suffix:
 * `noreply-billing`, `no_reply123`), bounce senders, and the RFC 2142 role accounts Zammad lists in
 * `send_no_auto_response_reg_exp` (helpdesk-peers §2.2). FreeScout#3670 is what happens without it:
 * an acknowledgement to a no-reply shop made 11 conversations.
 */
const NO_REPLY_LOCAL_PART =
  /^(?:(?:no[-_.]?reply|do[-_.]?not[-_.]?reply|dont[-_.]?reply).*|mailer-daemon|postmaster|abuse|root)$/;

/**
 * True when an acknowledgement or notification must never be sent to this address. Case-insensitive,
 * ignores a `+tag`; false for anything that is not an address.
 */
export const isNoReplySender = (address: string): boolean => {
  const local = localPart(address.trim());
  return local !== '' && NO_REPLY_LOCAL_PART.test(local);
};

/**
 * True when the sender asked, with Microsoft's `X-Auto-Response-Suppress`, not to get automatic
 * replies: `All`, or `AutoReply` (which covers acknowledgements; `OOF` alone only covers absence
 * notices). Not a class: people's Outlook sets it on ordinary mail, so the ticket is still made;
 * only the thank-you mail is skipped (helpdesk-peers §11.1).
 */
export const suppressesAutoResponse = (mail: ParsedMail): boolean =>
  headerValues(mail, 'x-auto-response-suppress').some((value) =>
    value
      .split(/[\s,]+/)
      .map((token) => token.toLowerCase())
      .some((token) => token === 'all' || token === 'autoreply'),
  );
