import { evidence, firstHeader } from '../headers.ts';
import type { ClassifyRule } from '../types.ts';

/** `List-Id` (RFC 2919): the mail came through a mailing list. */
export const listId: ClassifyRule<'list_id'> = {
  reason: 'list_id',
  kind: 'bulk',
  test(mail) {
    const value = firstHeader(mail, 'list-id');
    return value === undefined ? undefined : evidence('List-Id', value);
  },
};
