import type { Mailbox, ParsedMail } from '../../model.ts';

/**
 * Who a mail is from, for threading and participants: Reply-To first, then From, then Sender, as
 * GitLab's `from_address = (mail.reply_to || []).first || mail.from.first || mail.sender`
 * (reference gitlab-service-desk.md §2.3). A desk address is skipped (a forwarder that sets
 * Reply-To to the desk must not make the desk its own participant).
 */
export const replySender = (
  mail: Pick<ParsedMail, 'replyTo' | 'from' | 'sender'>,
  isDeskAddress: (address: string) => boolean,
): Mailbox | undefined =>
  [...mail.replyTo, ...mail.from, ...(mail.sender ? [mail.sender] : [])].find(
    (mailbox) => mailbox.address.includes('@') && !isDeskAddress(mailbox.address.trim().toLowerCase()),
  );

/**
 * Who may speak for a participant: the `From` address (then `Sender`), never `Reply-To`. DMARC
 * aligns `From` with the sending domain; `Reply-To` is free text anyone can set, so trusting it
 * would let a stranger who knows a participant's address and one message id post as them.
 */
export const authorSender = (
  mail: Pick<ParsedMail, 'from' | 'sender'>,
  isDeskAddress: (address: string) => boolean,
): Mailbox | undefined =>
  [...mail.from, ...(mail.sender ? [mail.sender] : [])].find(
    (mailbox) => mailbox.address.includes('@') && !isDeskAddress(mailbox.address.trim().toLowerCase()),
  );
