import { describe, expect, it } from 'vitest';
import { classifyMail } from '../../core/stages/classify/index.ts';
import { precedenceBulk } from '../../core/stages/classify/rules/precedence-bulk.ts';
import { context, fixture, withHeaders } from './support.ts';

describe('precedence_bulk', () => {
  it('fires on a newsletter with Precedence: bulk', () => {
    // Prepare
    const mail = fixture('precedence-bulk.eml');
    // Act
    const result = classifyMail(mail, context);
    // Assess
    expect(precedenceBulk.test(mail, context)).toBe('Precedence=bulk');
    expect(result).toMatchObject({ verdict: 'bulk', reason: 'precedence_bulk' });
  });

  it('fires on X-Precedence: LIST, case-insensitively', () => {
    expect(precedenceBulk.test(fixture('x-precedence-list.eml'), context)).toBe('X-Precedence=LIST');
  });

  it('fires on junk', () => {
    expect(precedenceBulk.test(withHeaders([['Precedence', 'junk']]), context)).toBe('Precedence=junk');
  });

  it.each(['first-class', 'normal', 'bulky', 'auto_reply'])('does not fire on %j', (value) => {
    expect(precedenceBulk.test(withHeaders([['Precedence', value]]), context)).toBeUndefined();
  });

  it('yields to a stronger class: a Zimbra vacation notice carries Precedence: bulk too', () => {
    const result = classifyMail(fixture('auto-submitted-vacation-zimbra.eml'), context);
    expect(result).toMatchObject({ verdict: 'out_of_office' });
    expect(result.ok && result.value.signals).toContain('precedence_bulk: Precedence=bulk');
  });
});
