import { evidence, firstHeader } from '../headers.ts';
import type { ClassifyRule } from '../types.ts';

/** `X-Failed-Recipients`, which Exim and Gmail put on their bounces (Chatwoot's `bounced?`). */
export const failedRecipientsHeader: ClassifyRule<'failed_recipients_header'> = {
  reason: 'failed_recipients_header',
  kind: 'bounce',
  test(mail) {
    const value = firstHeader(mail, 'x-failed-recipients');
    return value === undefined ? undefined : evidence('X-Failed-Recipients', value);
  },
};
