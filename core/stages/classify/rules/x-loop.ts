import { evidence, firstHeader } from '../headers.ts';
import type { ClassifyRule } from '../types.ts';

/**
 * `X-Loop`, with any value. Zammad matches `yes|true`; procmail recipes, SmartList and ticket
 * systems write an address there instead. Either way a machine added it, and answering it is how
 * mail loops start.
 */
export const xLoop: ClassifyRule<'x_loop'> = {
  reason: 'x_loop',
  kind: 'auto_reply',
  test(mail) {
    const value = firstHeader(mail, 'x-loop');
    return value === undefined ? undefined : evidence('X-Loop', value);
  },
};
