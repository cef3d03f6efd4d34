import { describe, expect, it } from 'vitest';
import { classifyMail } from '../../core/stages/classify/index.ts';
import { ownLoopHeader } from '../../core/stages/classify/rules/own-loop-header.ts';
import { context, fixture, withHeaders } from './support.ts';

describe('own_loop_header', () => {
  it('fires when our X-Postdesk-Loop header comes back through a forward', () => {
    // Prepare
    const mail = fixture('own-loop-header.eml');
    // Act
    const evidence = ownLoopHeader.test(mail, context);
    const result = classifyMail(mail, context);
    // Assess
    expect(evidence).toBe('X-Postdesk-Loop=desk.example.com; v1; 5tq2k8w3m0z7');
    expect(result).toMatchObject({ ok: true, verdict: 'own_mail', reason: 'own_loop_header' });
  });

  it('fires on the header with an empty value: presence is the signal', () => {
    expect(ownLoopHeader.test(withHeaders([['X-Postdesk-Loop', '']]), context)).toBe('X-Postdesk-Loop=');
  });

  it('does not fire on a person’s mail or on other loop headers', () => {
    expect(ownLoopHeader.test(fixture('human-question.eml'), context)).toBeUndefined();
    expect(ownLoopHeader.test(fixture('x-loop.eml'), context)).toBeUndefined();
  });
});
