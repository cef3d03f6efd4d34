import { describe, expect, it } from 'vitest';
import { classifyMail } from '../../core/stages/classify/index.ts';
import { precedenceAutoReply } from '../../core/stages/classify/rules/precedence-auto-reply.ts';
import { context, fixture, withHeaders } from './support.ts';

describe('precedence_auto_reply', () => {
  it('fires on Precedence: Auto_Reply, case-insensitively', () => {
    // Prepare
    const mail = fixture('precedence-auto-reply.eml');
    // Act
    const result = classifyMail(mail, context);
    // Assess
    expect(precedenceAutoReply.test(mail, context)).toBe('Precedence=Auto_Reply');
    expect(result).toMatchObject({ verdict: 'auto_reply', reason: 'precedence_auto_reply' });
  });

  it('reads X-Precedence too', () => {
    expect(precedenceAutoReply.test(withHeaders([['X-Precedence', 'auto_reply']]), context)).toBe(
      'X-Precedence=auto_reply',
    );
  });

  it('leaves bulk values to precedence_bulk', () => {
    expect(precedenceAutoReply.test(fixture('precedence-bulk.eml'), context)).toBeUndefined();
  });
});
