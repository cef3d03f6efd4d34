import { describe, expect, it } from 'vitest';
import { classifyMail } from '../../core/stages/classify/index.ts';
import { xAutoreply } from '../../core/stages/classify/rules/x-autoreply.ts';
import { context, fixture, withHeaders } from './support.ts';

/** GitLab's rule: X-Autoreply is exactly `yes`. */
describe('x_autoreply', () => {
  it('fires on X-Autoreply: yes', () => {
    // Prepare
    const mail = fixture('x-autoreply.eml');
    // Act
    const result = classifyMail(mail, context);
    // Assess
    expect(xAutoreply.test(mail, context)).toBe('X-Autoreply=yes');
    expect(result).toMatchObject({ verdict: 'auto_reply', reason: 'x_autoreply' });
  });

  it('strips whitespace around the value', () => {
    expect(xAutoreply.test(withHeaders([['X-Autoreply', ' yes ']]), context)).toBe('X-Autoreply=yes');
  });

  it.each(['true', 'YES', 'Yes', 'no'])('does not fire on %j, as GitLab does not', (value) => {
    expect(xAutoreply.test(withHeaders([['X-Autoreply', value]]), context)).toBeUndefined();
  });

  it('leaves X-Autoreply: true to the other rules (none fire here)', () => {
    expect(classifyMail(fixture('x-autoreply-true.eml'), context)).toMatchObject({ verdict: 'human' });
  });
});
