import { describe, expect, it } from 'vitest';
import { classifyMail } from '../../core/stages/classify/index.ts';
import { xLoop } from '../../core/stages/classify/rules/x-loop.ts';
import { context, fixture, withHeaders } from './support.ts';

describe('x_loop', () => {
  it('fires on a ticket system’s X-Loop address', () => {
    // Prepare
    const mail = fixture('x-loop.eml');
    // Act
    const result = classifyMail(mail, context);
    // Assess
    expect(xLoop.test(mail, context)).toBe('X-Loop=helpdesk@vendor.example.net');
    expect(result).toMatchObject({ verdict: 'auto_reply', reason: 'x_loop' });
  });

  it('fires on Zammad’s yes/true values', () => {
    expect(xLoop.test(withHeaders([['X-Loop', 'yes']]), context)).toBe('X-Loop=yes');
    expect(xLoop.test(withHeaders([['X-Loop', 'TRUE']]), context)).toBe('X-Loop=TRUE');
  });

  it('does not fire without the header', () => {
    expect(xLoop.test(fixture('human-question.eml'), context)).toBeUndefined();
  });
});
