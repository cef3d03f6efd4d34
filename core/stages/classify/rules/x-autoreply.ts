import { headerValues } from '../headers.ts';
import type { ClassifyRule } from '../types.ts';

/**
 * GitLab's second rule, exactly: `X-Autoreply` is `yes` (whitespace-stripped, case-sensitive)
 * (lib/gitlab/email/receiver.rb@41946e65). FreeScout flags any value; we keep GitLab's rule.
 */
export const xAutoreply: ClassifyRule<'x_autoreply'> = {
  reason: 'x_autoreply',
  kind: 'auto_reply',
  test(mail) {
    return headerValues(mail, 'x-autoreply').includes('yes') ? 'X-Autoreply=yes' : undefined;
  },
};
