/**
 * Reason codes of the thread stage. A reader who wants to know why a mail became a note, or was
 * quarantined, finds the rule by its code.
 */
export const ThreadReason = {
  /** No reply token and no known message id in In-Reply-To/References. */
  newTicket: 'new_ticket',
  /** A participant replied to their signed reply address. */
  replyToken: 'reply_token',
  /** A participant's In-Reply-To named a mail of this project's ticket. */
  inReplyTo: 'in_reply_to',
  /** A participant's References named a mail of this project's ticket. */
  references: 'references',
  /** An auto-reply, out-of-office or bulk mail on a ticket: internal note, no reopen. */
  automatedOnTicket: 'automated_on_ticket',
  /** The sender is not a participant of the ticket; the project's `strangers` policy decided. */
  replyFromStranger: 'reply_from_stranger',
  /** The reply token is malformed, for another project, or its MAC matches no participant of that issue. */
  replyTokenInvalid: 'reply_token_invalid',
  /** A reply token arrived but the desk secret has no `reply_key` to check it with. */
  replyKeyMissing: 'reply_key_missing',
} as const;
export type ThreadReason = (typeof ThreadReason)[keyof typeof ThreadReason];
