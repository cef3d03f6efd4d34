import { describe, expect, it } from 'vitest';
import { classifyMail } from '../../core/stages/classify/index.ts';
import { nullReturnPath } from '../../core/stages/classify/rules/null-return-path.ts';
import { context, fixture, withHeaders } from './support.ts';

describe('null_return_path', () => {
  it('fires on a qmail bounce, which has nothing but the null reverse-path', () => {
    // Prepare
    const mail = fixture('null-return-path.eml');
    // Act
    const result = classifyMail(mail, context);
    // Assess
    expect(nullReturnPath.test(mail, context)).toBe('Return-Path=<>');
    expect(result).toMatchObject({ verdict: 'bounce', reason: 'null_return_path' });
  });

  it('accepts spaces inside the brackets', () => {
    expect(nullReturnPath.test(withHeaders([['Return-Path', '< >']]), context)).toBe('Return-Path=<>');
  });

  it('reads only the topmost Return-Path, the one the delivering MTA wrote', () => {
    const mail = withHeaders([
      ['Return-Path', '<jane.doe@example.org>'],
      ['Return-Path', '<>'],
    ]);
    expect(nullReturnPath.test(mail, context)).toBeUndefined();
  });

  it('stands down for a vacation notice sent with a null sender (Zimbra, Sieve vacation)', () => {
    // Prepare
    const mail = fixture('auto-submitted-vacation-zimbra.eml');
    // Act
    const result = classifyMail(mail, context);
    // Assess
    expect(nullReturnPath.test(mail, context)).toBeUndefined();
    expect(result).toMatchObject({ verdict: 'out_of_office', reason: 'auto_submitted_vacation' });
  });

  it('stands down for any RFC 3834 auto-reply with a null sender', () => {
    const mail = withHeaders([
      ['Return-Path', '<>'],
      ['Auto-Submitted', 'auto-replied'],
    ]);
    expect(nullReturnPath.test(mail, context)).toBeUndefined();
    expect(classifyMail(mail, context)).toMatchObject({ verdict: 'auto_reply', reason: 'auto_submitted' });
  });

  it('does not fire on an ordinary Return-Path', () => {
    expect(nullReturnPath.test(fixture('human-question.eml'), context)).toBeUndefined();
  });
});
