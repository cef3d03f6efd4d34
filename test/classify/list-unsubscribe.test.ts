import { describe, expect, it } from 'vitest';
import { classifyMail } from '../../core/stages/classify/index.ts';
import { listUnsubscribe } from '../../core/stages/classify/rules/list-unsubscribe.ts';
import { context, fixture } from './support.ts';

describe('list_unsubscribe', () => {
  it('fires on a marketing mail with one-click unsubscribe', () => {
    // Prepare
    const mail = fixture('list-unsubscribe.eml');
    // Act
    const result = classifyMail(mail, context);
    // Assess
    expect(listUnsubscribe.test(mail, context)).toMatch(/^List-Unsubscribe=<mailto:unsubscribe@marketing/);
    expect(result).toMatchObject({ verdict: 'bulk', reason: 'list_unsubscribe' });
  });

  it('caps long evidence at 100 characters', () => {
    const evidence = listUnsubscribe.test(fixture('list-unsubscribe.eml'), context) ?? '';
    expect(evidence.length).toBeLessThanOrEqual('List-Unsubscribe='.length + 101);
    expect(evidence.endsWith('…')).toBe(true);
  });

  it('does not fire without the header', () => {
    expect(listUnsubscribe.test(fixture('human-question.eml'), context)).toBeUndefined();
  });
});
