import type { Mailbox, ParsedMail } from '../../model.ts';
import { senderIdentity } from '../authenticate/sender-identity.ts';

/**
 * Who wrote a mail, for threading, participants, the author line and the per-sender limit: the
 * one sender identity (core/stages/authenticate/sender-identity.ts), read from the same From
 * header values authentication read, and nothing else. Reply-To and Sender never stand in, though
 * GitLab's `from_address = (mail.reply_to || []).first || mail.from.first || mail.sender` lets them
 * (reference gitlab-service-desk.md §2.3): DMARC aligns only the From domain, while Reply-To and
 * Sender are free text anyone can set, so trusting them would let a stranger who knows a
 * participant's address and one message id post as them, or be mailed the team's answers.
 *
 * Undefined when the From is not one plain mailbox (the policy stage quarantines such mail before
 * threading) or is a desk address (a forwarder must not make the desk its own participant).
 */
export const authorSender = (
  mail: Pick<ParsedMail, 'headers'>,
  isDeskAddress: (address: string) => boolean,
): Mailbox | undefined => {
  const identity = senderIdentity(mail.headers.get('from') ?? []);
  if (!identity.ok || isDeskAddress(identity.mailbox.address.trim().toLowerCase())) return undefined;
  return identity.mailbox;
};
