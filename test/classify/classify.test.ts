import { readdirSync, readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { classifyMail, classifyRules } from '../../core/stages/classify/index.ts';
import type { MailClass } from '../../core/stages/contracts.ts';
import { context, corpus, fixture, withHeaders } from './support.ts';

const strength = (kind: MailClass): number =>
  ['own_mail', 'bounce', 'out_of_office', 'auto_reply', 'bulk'].indexOf(kind);

describe('classifyMail', () => {
  it('calls a person’s mail human, with no signals and no detail', () => {
    // Prepare
    const mail = fixture('human-question.eml');
    // Act
    const result = classifyMail(mail, context);
    // Assess
    expect(result).toEqual({
      ok: true,
      value: { kind: 'human', reason: 'human', signals: [] },
      verdict: 'human',
      reason: 'human',
    });
  });

  it('always passes, whatever the class: the pipeline decides what a class does', () => {
    for (const name of readdirSync(new URL('../fixtures/mail/classify/', import.meta.url))) {
      if (!name.endsWith('.eml')) continue;
      expect(classifyMail(fixture(name), context).ok, name).toBe(true);
    }
  });

  it('lists the rules strongest class first, one reason code each', () => {
    const kinds = classifyRules.map((rule) => strength(rule.kind));
    expect(kinds).toEqual([...kinds].sort((a, b) => a - b));
    expect(kinds).not.toContain(-1);
    const reasons = classifyRules.map((rule) => rule.reason);
    expect(new Set(reasons).size).toBe(reasons.length);
    for (const reason of reasons) expect(reason).toMatch(/^[a-z][a-z_]*$/);
  });

  it('gives every rule its own test file and names it in the fixtures README', () => {
    const readme = readFileSync(new URL('../fixtures/mail/classify/README.md', import.meta.url), 'utf8');
    const tests = readdirSync(new URL('./', import.meta.url));
    for (const rule of classifyRules) {
      expect(tests, rule.reason).toContain(`${rule.reason.replaceAll('_', '-')}.test.ts`);
      expect(readme, rule.reason).toContain(`\`${rule.reason}\``);
    }
  });

  it('decides by the strongest rule and records every rule that fired, in order', () => {
    // Prepare: our own notification bounced by an autoresponder on a mailing list.
    const mail = withHeaders([
      ['X-Postdesk-Loop', 'desk.example.com; v1; abc'],
      ['Auto-Submitted', 'auto-replied'],
      ['List-Id', '<team.lists.example.org>'],
    ]);
    // Act
    const result = classifyMail(mail, context);
    // Assess
    expect(result).toMatchObject({
      ok: true,
      verdict: 'own_mail',
      reason: 'own_loop_header',
      detail: {
        signals: [
          'own_loop_header: X-Postdesk-Loop=desk.example.com; v1; abc',
          'auto_submitted: Auto-Submitted=auto-replied',
          'list_id: List-Id=<team.lists.example.org>',
        ],
      },
    });
  });

  it('keeps control and bidi characters out of the evidence', () => {
    const mail = withHeaders([['X-Loop', 'yes\u0000\u202e\u001b[31m']]);
    const result = classifyMail(mail, context);
    expect(result.ok && result.value.signals).toEqual(['x_loop: X-Loop=yes [31m']);
  });

  it('reads header names in any case (the map is keyed lowercase)', () => {
    const mail = withHeaders([['PRECEDENCE', 'BULK']]);
    expect(classifyMail(mail, context)).toMatchObject({ verdict: 'bulk', reason: 'precedence_bulk' });
  });

  it('is not a spam filter: the corpus spam has no automation header and stays human', () => {
    // Spam is the authenticate stage's (SES spamVerdict); classify only reads automation signals.
    const result = classifyMail(corpus('mailparser/spam.eml'), context);
    expect(result).toMatchObject({ verdict: 'human' });
  });

  it('classifies every corpus mail without throwing', () => {
    for (const path of ['mailparser/delivery-status.eml', 'mailparser/spam.eml', 'mailparser/mixed.eml']) {
      expect(classifyMail(corpus(path), context).ok).toBe(true);
    }
  });
});
