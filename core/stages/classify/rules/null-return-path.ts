import { firstHeader, headerValues } from '../headers.ts';
import type { ClassifyRule } from '../types.ts';
import { autoSubmittedVacation } from './auto-submitted-vacation.ts';
import { exchangeOof } from './exchange-oof.ts';
import { oooSubject } from './ooo-subject.ts';

/**
 * `Return-Path: <>`: the null reverse-path, which RFC 5321 §4.5.5 requires on delivery status
 * notifications (FreeScout's fourth bounce check). Only the topmost Return-Path counts: the
 * delivering MTA writes it from MAIL FROM (SES prepends it); lower ones came from earlier hops.
 *
 * The trap: vacation responders send with a null reverse-path too (Sieve vacation, Zimbra, Cyrus:
 * "out-of-office: from=user, envelope=<>"), and an absence notice must stay an out-of-office (kept
 * as an internal note), not become a bounce (dropped). So the rule stands down when the mail says
 * it is an RFC 3834 auto-reply (`Auto-Submitted: auto-replied…`) or an out-of-office rule fires;
 * real bounces that say `auto-replied` (Exim, Postfix) are still caught by the sender, report and
 * `X-Failed-Recipients` rules.
 */
export const nullReturnPath: ClassifyRule<'null_return_path'> = {
  reason: 'null_return_path',
  kind: 'bounce',
  test(mail, context) {
    const value = firstHeader(mail, 'return-path');
    if (value === undefined || value.replace(/\s+/g, '') !== '<>') return undefined;
    const autoReplied = headerValues(mail, 'auto-submitted').some((auto) =>
      auto.toLowerCase().startsWith('auto-replied'),
    );
    if (autoReplied) return undefined;
    if (
      [autoSubmittedVacation, exchangeOof, oooSubject].some((rule) => rule.test(mail, context) !== undefined)
    ) {
      return undefined;
    }
    return 'Return-Path=<>';
  },
};
