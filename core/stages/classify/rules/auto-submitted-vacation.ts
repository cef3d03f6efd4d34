import { evidence, headerValues } from '../headers.ts';
import type { ClassifyRule } from '../types.ts';

/** Words in a subject that, next to `Auto-Submitted: auto-replied`, mean an absence notice. */
const ABSENCE_SUBJECT =
  /vacation|holiday|out of (?:the )?office|abwesen|urlaub|absence|congés|vacaciones|ferie|不在|休暇/i;

/**
 * An RFC 3834 auto-reply that says it is an absence notice, by Zammad's `out_of_office_check`
 * hints: the value contains `vacation` (Zimbra: `auto-replied (zimbra; vacation)`), carries an
 * `owner-email=` parameter (cloud vacation responders), or is `auto-replied` with an absence word
 * in the subject (Gmail's vacation responder, whose subject the user writes).
 */
export const autoSubmittedVacation: ClassifyRule<'auto_submitted_vacation'> = {
  reason: 'auto_submitted_vacation',
  kind: 'out_of_office',
  test(mail) {
    for (const value of headerValues(mail, 'auto-submitted')) {
      const lower = value.toLowerCase();
      if (lower.includes('vacation')) return evidence('Auto-Submitted', value);
      if (!lower.startsWith('auto-replied')) continue;
      if (lower.includes('owner-email=')) return evidence('Auto-Submitted', value);
      if (mail.subject !== undefined && ABSENCE_SUBJECT.test(mail.subject)) {
        return `${evidence('Auto-Submitted', value)}; ${evidence('Subject', mail.subject)}`;
      }
    }
    return undefined;
  },
};
