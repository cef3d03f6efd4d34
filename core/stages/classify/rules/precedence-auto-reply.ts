import { evidence, headerValues } from '../headers.ts';
import type { ClassifyRule } from '../types.ts';

/**
 * `Precedence: auto_reply` (or `X-Precedence`), case-insensitive (FreeScout compares it exactly and
 * case-sensitively, which misses `Auto_Reply`). The bulk values are `precedenceBulk`'s.
 */
export const precedenceAutoReply: ClassifyRule<'precedence_auto_reply'> = {
  reason: 'precedence_auto_reply',
  kind: 'auto_reply',
  test(mail) {
    for (const header of ['Precedence', 'X-Precedence']) {
      const value = headerValues(mail, header).find((candidate) => candidate.toLowerCase() === 'auto_reply');
      if (value !== undefined) return evidence(header, value);
    }
    return undefined;
  },
};
