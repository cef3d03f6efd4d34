import { describe, expect, it } from 'vitest';
import { classifyMail } from '../../core/stages/classify/index.ts';
import { xAutorespond } from '../../core/stages/classify/rules/x-autorespond.ts';
import { context, fixture, withHeaders } from './support.ts';

describe('x_autorespond', () => {
  it('fires on a cPanel autoresponder', () => {
    // Prepare
    const mail = fixture('x-autorespond.eml');
    // Act
    const result = classifyMail(mail, context);
    // Assess
    expect(xAutorespond.test(mail, context)).toBe('X-Autorespond=Autoresponder');
    expect(result).toMatchObject({ verdict: 'auto_reply', reason: 'x_autorespond' });
  });

  it('fires on any value, as FreeScout does', () => {
    expect(xAutorespond.test(withHeaders([['X-Autorespond', '']]), context)).toBe('X-Autorespond=');
  });

  it('does not fire without the header', () => {
    expect(xAutorespond.test(fixture('human-question.eml'), context)).toBeUndefined();
  });
});
