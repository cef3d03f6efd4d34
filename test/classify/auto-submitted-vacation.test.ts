import { describe, expect, it } from 'vitest';
import { classifyMail } from '../../core/stages/classify/index.ts';
import { autoSubmittedVacation } from '../../core/stages/classify/rules/auto-submitted-vacation.ts';
import { context, fixture, withHeaders } from './support.ts';

describe('auto_submitted_vacation', () => {
  it.each([
    ['auto-submitted-vacation-zimbra.eml', 'Auto-Submitted=auto-replied (zimbra; vacation)'],
    ['auto-submitted-owner-email.eml', 'Auto-Submitted=auto-replied; owner-email="tom@example.org"'],
    ['auto-submitted-vacation-gmail.eml', 'Auto-Submitted=auto-replied; Subject=On vacation until 1 July'],
  ])('fires on %s', (name, expected) => {
    // Prepare
    const mail = fixture(name);
    // Act
    const result = classifyMail(mail, context);
    // Assess
    expect(autoSubmittedVacation.test(mail, context)).toBe(expected);
    expect(result).toMatchObject({ verdict: 'out_of_office', reason: 'auto_submitted_vacation' });
  });

  it('wins over the plain auto_submitted rule, which is recorded too', () => {
    const result = classifyMail(fixture('auto-submitted-owner-email.eml'), context);
    expect(result.ok && result.value.signals.map((signal) => signal.split(':')[0])).toEqual([
      'auto_submitted_vacation',
      'auto_submitted',
    ]);
  });

  it('does not fire on auto-replied without an absence hint, nor on auto-generated', () => {
    expect(autoSubmittedVacation.test(fixture('failed-recipients-header.eml'), context)).toBeUndefined();
    expect(autoSubmittedVacation.test(fixture('auto-submitted-auto-generated.eml'), context)).toBeUndefined();
    const generatedAboutVacation = withHeaders([['Auto-Submitted', 'auto-generated']], {
      subject: 'Vacation request approved',
    });
    expect(autoSubmittedVacation.test(generatedAboutVacation, context)).toBeUndefined();
  });

  it('does not fire on a person writing about their vacation', () => {
    const mail = withHeaders([], { subject: 'Refund before my vacation?' });
    expect(autoSubmittedVacation.test(mail, context)).toBeUndefined();
  });
});
