import { describe, expect, it } from 'vitest';
import { classifyMail } from '../../core/stages/classify/index.ts';
import { exchangeOof } from '../../core/stages/classify/rules/exchange-oof.ts';
import { context, fixture, withHeaders } from './support.ts';

describe('exchange_oof', () => {
  it('fires on an Exchange Online out-of-office reply', () => {
    // Prepare
    const mail = fixture('exchange-oof.eml');
    // Act
    const result = classifyMail(mail, context);
    // Assess
    expect(exchangeOof.test(mail, context)).toBe(
      'X-Auto-Response-Suppress=All; X-MS-Exchange-Inbox-Rules-Loop=jan.kowalski@contoso.example.com',
    );
    expect(result).toMatchObject({ verdict: 'out_of_office', reason: 'exchange_oof' });
  });

  it('finds All inside a list of values, in any case', () => {
    const mail = withHeaders([
      ['X-Auto-Response-Suppress', 'DR, OOF, all'],
      ['X-MS-Exchange-Inbox-Rules-Loop', 'jan@contoso.example.com'],
    ]);
    expect(exchangeOof.test(mail, context)).toBeDefined();
  });

  it('does not fire on X-Auto-Response-Suppress alone (ordinary Outlook mail)', () => {
    // Prepare
    const mail = withHeaders([['X-Auto-Response-Suppress', 'All']]);
    // Act
    const result = classifyMail(mail, context);
    // Assess
    expect(exchangeOof.test(mail, context)).toBeUndefined();
    expect(result).toMatchObject({ verdict: 'human' });
  });

  it('does not fire when the suppress list lacks All', () => {
    const mail = withHeaders([
      ['X-Auto-Response-Suppress', 'OOF, AutoReply'],
      ['X-MS-Exchange-Inbox-Rules-Loop', 'jan@contoso.example.com'],
    ]);
    expect(exchangeOof.test(mail, context)).toBeUndefined();
  });
});
