import { describe, expect, it } from 'vitest';
import { classifyMail } from '../../core/stages/classify/index.ts';
import { ownAddressSender } from '../../core/stages/classify/rules/own-address-sender.ts';
import { context, fixture, withHeaders } from './support.ts';

describe('own_address_sender', () => {
  it('fires when From is a desk address', () => {
    // Prepare
    const mail = fixture('own-address-sender.eml');
    // Act
    const result = classifyMail(mail, context);
    // Assess
    expect(ownAddressSender.test(mail, context)).toBe('From=support@desk.example.com');
    expect(result).toMatchObject({ ok: true, verdict: 'own_mail', reason: 'own_address_sender' });
  });

  it('fires when Reply-To is a desk alias, in any case', () => {
    const mail = withHeaders([['Reply-To', 'Acme Help <HELP@acme.example>']]);
    expect(ownAddressSender.test(mail, context)).toBe('Reply-To=help@acme.example');
  });

  it('does not fire for a customer who only writes To the desk', () => {
    expect(ownAddressSender.test(fixture('human-question.eml'), context)).toBeUndefined();
  });
});
