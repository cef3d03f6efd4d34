import { evidence, firstHeader } from '../headers.ts';
import type { ClassifyRule } from '../types.ts';

/** `List-Unsubscribe` (RFC 2369, RFC 8058): newsletters and bulk senders (Zammad's first check). */
export const listUnsubscribe: ClassifyRule<'list_unsubscribe'> = {
  reason: 'list_unsubscribe',
  kind: 'bulk',
  test(mail) {
    const value = firstHeader(mail, 'list-unsubscribe');
    return value === undefined ? undefined : evidence('List-Unsubscribe', value);
  },
};
