import { evidence, firstHeader } from '../headers.ts';
import type { ClassifyRule } from '../types.ts';

/**
 * Our own loop header (`X-Postdesk-Loop`, set on every mail Postdesk sends) came back: a
 * notification bounced off an autoresponder or a forward rule. Presence alone is enough; a
 * sender who forges it only gets their own mail dropped, so it needs no verification here
 * (Zammad's `own_notification_loop_detection`, helpdesk-peers §2.2).
 */
export const ownLoopHeader: ClassifyRule<'own_loop_header'> = {
  reason: 'own_loop_header',
  kind: 'own_mail',
  test(mail, context) {
    const value = firstHeader(mail, context.loopHeader);
    return value === undefined ? undefined : evidence('X-Postdesk-Loop', value);
  },
};
