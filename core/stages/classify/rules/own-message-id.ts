import { evidence } from '../headers.ts';
import type { ClassifyRule } from '../types.ts';

/**
 * A Message-ID at the desk's domain was minted by us (Zammad: Message-ID `@<own fqdn>`). SES
 * replaces the Message-ID of mail it sends with its own, so in AWS this catches mostly mail that
 * never went through SES (local mode, a resend of a stored copy); the loop header and the sender
 * rules catch the rest.
 */
export const ownMessageId: ClassifyRule<'own_message_id'> = {
  reason: 'own_message_id',
  kind: 'own_mail',
  test(mail, context) {
    const id = mail.messageId;
    if (id === undefined) return undefined;
    return id.toLowerCase().endsWith(`@${context.domain.toLowerCase()}`)
      ? evidence('Message-ID', id)
      : undefined;
  },
};
