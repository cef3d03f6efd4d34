import { evidence, firstHeader } from '../headers.ts';
import type { ClassifyRule } from '../types.ts';

/** `X-Autorespond`, with any value (FreeScout `isAutoResponder`); set by cPanel/Exim autoresponders. */
export const xAutorespond: ClassifyRule<'x_autorespond'> = {
  reason: 'x_autorespond',
  kind: 'auto_reply',
  test(mail) {
    const value = firstHeader(mail, 'x-autorespond');
    return value === undefined ? undefined : evidence('X-Autorespond', value);
  },
};
