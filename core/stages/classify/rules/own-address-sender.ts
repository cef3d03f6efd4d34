import type { ClassifyRule } from '../types.ts';

/**
 * From or Reply-To is one of the desk's own addresses: our mail came back through a forward, or
 * an agent's client sent "as" the desk. Making a ticket from it starts a loop (Zammad
 * `sender_is_system_address`, Chatwoot's own-notification check, FreeScout#3332).
 */
export const ownAddressSender: ClassifyRule<'own_address_sender'> = {
  reason: 'own_address_sender',
  kind: 'own_mail',
  test(mail, context) {
    for (const [header, boxes] of [
      ['From', mail.from],
      ['Reply-To', mail.replyTo],
    ] as const) {
      const own = boxes.find((box) => box.address !== '' && context.isDeskAddress(box.address));
      if (own) return `${header}=${own.address.toLowerCase()}`;
    }
    return undefined;
  },
};
