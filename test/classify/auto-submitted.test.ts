import { describe, expect, it } from 'vitest';
import { classifyMail } from '../../core/stages/classify/index.ts';
import { autoSubmitted } from '../../core/stages/classify/rules/auto-submitted.ts';
import { context, fixture, withHeaders } from './support.ts';

/** GitLab's rule: present and whitespace-stripped value != 'no', case-sensitively. */
describe('auto_submitted', () => {
  it('fires on a CI alert with Auto-Submitted: auto-generated', () => {
    // Prepare
    const mail = fixture('auto-submitted-auto-generated.eml');
    // Act
    const result = classifyMail(mail, context);
    // Assess
    expect(autoSubmitted.test(mail, context)).toBe('Auto-Submitted=auto-generated');
    expect(result).toMatchObject({ verdict: 'auto_reply', reason: 'auto_submitted' });
  });

  it('counts "No" as automated, exactly as GitLab compares it', () => {
    const mail = fixture('auto-submitted-capital-no.eml');
    expect(autoSubmitted.test(mail, context)).toBe('Auto-Submitted=No');
    expect(classifyMail(mail, context)).toMatchObject({ verdict: 'auto_reply' });
  });

  it('lets "no" through, with surrounding whitespace stripped', () => {
    expect(classifyMail(fixture('auto-submitted-no.eml'), context)).toMatchObject({ verdict: 'human' });
    expect(autoSubmitted.test(withHeaders([['Auto-Submitted', '  no \r\n ']]), context)).toBeUndefined();
  });

  it.each(['no; reason=manual', 'NO', 'auto-notified', 'x-custom', ''])('counts %j as automated', (value) => {
    expect(autoSubmitted.test(withHeaders([['Auto-Submitted', value]]), context)).toBeDefined();
  });

  it('fires when any of several Auto-Submitted headers is not "no"', () => {
    const mail = withHeaders([
      ['Auto-Submitted', 'no'],
      ['Auto-Submitted', 'auto-replied'],
    ]);
    expect(autoSubmitted.test(mail, context)).toBe('Auto-Submitted=auto-replied');
  });

  it('does not fire without the header', () => {
    expect(autoSubmitted.test(fixture('human-question.eml'), context)).toBeUndefined();
  });
});
