import { evidence, headerValues } from '../headers.ts';
import type { ClassifyRule } from '../types.ts';

/**
 * GitLab's first rule, exactly as `Gitlab::Email::Receiver#ignore_auto_reply!` applies it: the
 * header is present and its whitespace-stripped value is not `no`, compared case-SENSITIVELY, so
 * `No` and `no; comment` count as automated (lib/gitlab/email/receiver.rb@41946e65). RFC 3834 §5
 * makes the keyword case-insensitive; matching GitLab is the floor the design asks for, and erring
 * towards "automated" only costs an acknowledgement. Any occurrence counts when there are several.
 */
export const autoSubmitted: ClassifyRule<'auto_submitted'> = {
  reason: 'auto_submitted',
  kind: 'auto_reply',
  test(mail) {
    const value = headerValues(mail, 'auto-submitted').find((candidate) => candidate !== 'no');
    return value === undefined ? undefined : evidence('Auto-Submitted', value);
  },
};
