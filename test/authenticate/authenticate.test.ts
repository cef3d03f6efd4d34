import { describe, expect, it } from 'vitest';
import { type AuthenticationPolicy, AuthenticationPolicySchema } from '../../core/config/schema.ts';
import type { ReceiptVerdicts } from '../../core/model.ts';
import { authenticateMail } from '../../core/stages/authenticate/index.ts';
import { buildMail } from '../support/mail-factory.ts';

/** The headers SES prepends to a stored mail (aws-ses-inbound §1.2), above the sender's own. */
const sesHeaders = [
  ['Return-Path', '<jane.doe@example.org>'],
  [
    'Received',
    'from mail.example.org [192.0.2.10]) by inbound-smtp.eu-west-1.amazonaws.com with SMTP id abc for support+game@desk.example.com; Tue, 04 Jun 2024 09:12:44 +0000 (UTC)',
  ],
  ['X-SES-Spam-Verdict', 'PASS'],
  ['X-SES-Virus-Verdict', 'PASS'],
  [
    'Received-SPF',
    'fail (spfCheck: domain of example.org does not designate 198.51.100.9 as permitted sender)',
  ],
  [
    'Authentication-Results',
    'amazonses.com; spf=fail (spfCheck: domain of example.org does not designate 198.51.100.9 as permitted sender) client-ip=198.51.100.9; dkim=fail header.i=@example.org; dmarc=fail header.from=example.org;',
  ],
  ['X-SES-RECEIPT', 'AEFBQUFBQUFBQUFH'],
] as const;

const senderHeaders = [
  ['From', 'Jane Doe <jane.doe@example.org>'],
  ['To', 'support+game@desk.example.com'],
  ['Subject', 'Refund please'],
  ['Message-ID', '<m1@example.org>'],
] as const;

const sesMail = buildMail([...sesHeaders, ...senderHeaders]);

const verdicts = (overrides: Partial<ReceiptVerdicts> = {}): ReceiptVerdicts => ({
  spf: 'PASS',
  dkim: 'PASS',
  dmarc: 'PASS',
  spam: 'PASS',
  virus: 'PASS',
  source: 'ses',
  ...overrides,
});

/** A policy through the real schema, so unspecified fields take their documented defaults. */
const policy = (input: Partial<AuthenticationPolicy> = {}): AuthenticationPolicy =>
  AuthenticationPolicySchema.parse(input);

describe('authenticateMail', () => {
  it('passes a mail whose required verdicts all passed', () => {
    // Act
    const result = authenticateMail(sesMail, verdicts(), policy());
    // Assess
    expect(result).toMatchObject({
      ok: true,
      verdict: 'authenticated',
      reason: 'policy_satisfied',
      value: { failed: [], rescuedByArc: false, ignoredAuthResults: 0 },
    });
  });

  describe('virus', () => {
    it.each([
      ['the default policy', policy()],
      ['a policy that requires nothing', policy({ require: [] })],
      ['a label-only policy', policy({ require: ['spf'], on_fail: 'label' })],
      ['a drop policy', policy({ on_fail: 'drop' })],
    ])('quarantines a virus FAIL under %s', (_name, given) => {
      const result = authenticateMail(sesMail, verdicts({ virus: 'FAIL', spf: 'FAIL' }), given);
      expect(result).toMatchObject({ ok: false, outcome: 'quarantined', reason: 'virus_detected' });
    });
  });

  describe('required verdicts', () => {
    it('quarantines spam FAIL under the default policy (require spam+virus, on_fail quarantine)', () => {
      // Act
      const result = authenticateMail(sesMail, verdicts({ spam: 'FAIL' }), policy());
      // Assess
      expect(result).toMatchObject({
        ok: false,
        outcome: 'quarantined',
        reason: 'spam_detected',
        detail: { failed: ['spam=FAIL'] },
      });
      expect(!result.ok && result.message).toBe(
        'Required check not passed (spam FAIL, from the SES receipt); the policy says on_fail: quarantine.',
      );
    });

    it('drops when on_fail is drop', () => {
      const result = authenticateMail(
        sesMail,
        verdicts({ dkim: 'FAIL' }),
        policy({ require: ['dkim'], on_fail: 'drop' }),
      );
      expect(result).toMatchObject({ ok: false, outcome: 'dropped', reason: 'dkim_failed' });
    });

    it('passes with the failure listed when on_fail is label', () => {
      // Act
      const result = authenticateMail(
        sesMail,
        verdicts({ dkim: 'FAIL', spf: 'GRAY' }),
        policy({ require: ['spf', 'dkim'], on_fail: 'label', fail_label: 'triage::unverified' }),
      );
      // Assess
      expect(result).toMatchObject({
        ok: true,
        verdict: 'unverified',
        reason: 'dkim_failed',
        value: { failed: ['dkim', 'spf'], rescuedByArc: false },
        detail: { failed: ['dkim=FAIL', 'spf=GRAY'], label: 'triage::unverified' },
      });
    });

    it('names the most serious failure first: spam before dmarc before spf', () => {
      const result = authenticateMail(
        sesMail,
        verdicts({ spf: 'FAIL', dmarc: 'FAIL', spam: 'FAIL' }),
        policy({ require: ['spf', 'dmarc', 'spam'] }),
      );
      expect(result).toMatchObject({
        ok: false,
        reason: 'spam_detected',
        detail: { failed: ['spam=FAIL', 'dmarc=FAIL', 'spf=FAIL'] },
      });
    });

    it.each([
      ['spf', 'FAIL', 'spf_failed'],
      ['dkim', 'FAIL', 'dkim_failed'],
      ['dmarc', 'FAIL', 'dmarc_failed'],
      ['spam', 'FAIL', 'spam_detected'],
      ['spf', 'GRAY', 'spf_unverified'],
      ['dkim', 'PROCESSING_FAILED', 'dkim_unverified'],
      ['dmarc', 'NONE', 'dmarc_unverified'],
      ['spam', 'GRAY', 'spam_unverified'],
      ['virus', 'PROCESSING_FAILED', 'virus_unverified'],
    ] as const)('gives %s %s the reason %s', (name, status, reason) => {
      const result = authenticateMail(sesMail, verdicts({ [name]: status }), policy({ require: [name] }));
      expect(result).toMatchObject({ ok: false, outcome: 'quarantined', reason });
    });

    it('treats a DISABLED scan as not passed, and says scanning is off', () => {
      // Prepare: local mode reports spam/virus DISABLED (no scanner), default policy requires them.
      const local = verdicts({ spam: 'DISABLED', virus: 'DISABLED', source: 'local' });
      // Act
      const result = authenticateMail(sesMail, local, policy());
      // Assess
      expect(result).toMatchObject({ ok: false, outcome: 'quarantined', reason: 'virus_unverified' });
      expect(!result.ok && result.message).toBe(
        'Required checks not passed (virus DISABLED, spam DISABLED, from the local check); the policy says ' +
          'on_fail: quarantine. virus scanning is off where the mail was received.',
      );
    });

    it('ignores verdicts the policy does not require', () => {
      const result = authenticateMail(
        sesMail,
        verdicts({ spf: 'FAIL', dkim: 'GRAY', dmarc: 'GRAY' }),
        policy({ require: ['spam'], on_fail: 'label' }),
      );
      expect(result).toMatchObject({ ok: true, reason: 'policy_satisfied', value: { failed: [] } });
    });
  });

  describe('the sender domain’s DMARC policy', () => {
    it.each(['reject', 'quarantine'] as const)('quarantines a DMARC FAIL with p=%s', (published) => {
      // Act
      const result = authenticateMail(
        sesMail,
        verdicts({ dmarc: 'FAIL', dmarcPolicy: published }),
        policy({ require: [] }),
      );
      // Assess
      expect(result).toMatchObject({
        ok: false,
        outcome: 'quarantined',
        reason: `dmarc_policy_${published}`,
      });
      expect(!result.ok && result.message).toContain('trusted_forwarders');
    });

    it('lets p=none through', () => {
      const result = authenticateMail(
        sesMail,
        verdicts({ dmarc: 'FAIL', dmarcPolicy: 'none' }),
        policy({ require: [] }),
      );
      expect(result).toMatchObject({ ok: true, reason: 'policy_satisfied' });
    });

    it('lets p=reject through when the policy does not honour it', () => {
      const result = authenticateMail(
        sesMail,
        verdicts({ dmarc: 'FAIL', dmarcPolicy: 'reject' }),
        policy({ require: [], honour_dmarc_policy: false }),
      );
      expect(result).toMatchObject({ ok: true });
    });

    it('lets an explicit drop policy for a required dmarc win over the published policy', () => {
      const result = authenticateMail(
        sesMail,
        verdicts({ dmarc: 'FAIL', dmarcPolicy: 'reject' }),
        policy({ require: ['dmarc'], on_fail: 'drop' }),
      );
      expect(result).toMatchObject({ ok: false, outcome: 'dropped', reason: 'dmarc_failed' });
    });

    it('quarantines p=reject even under a label policy (a label is weaker than the sender’s reject)', () => {
      const result = authenticateMail(
        sesMail,
        verdicts({ dmarc: 'FAIL', dmarcPolicy: 'reject' }),
        policy({ require: ['dmarc'], on_fail: 'label' }),
      );
      expect(result).toMatchObject({ ok: false, outcome: 'quarantined', reason: 'dmarc_policy_reject' });
    });
  });

  describe('ARC rescue', () => {
    const forwarded = verdicts({
      spf: 'FAIL',
      dkim: 'FAIL',
      dmarc: 'FAIL',
      dmarcPolicy: 'reject',
      arc: { result: 'pass', sealer: 'Lists.Forwarder.example' },
      source: 'local',
    });

    it('rescues DKIM and DMARC failures sealed by a trusted forwarder (sealer case-insensitive)', () => {
      // Act
      const result = authenticateMail(
        sesMail,
        forwarded,
        policy({ require: ['dkim', 'dmarc'], trusted_forwarders: ['lists.forwarder.example'] }),
      );
      // Assess
      expect(result).toMatchObject({
        ok: true,
        verdict: 'authenticated',
        reason: 'arc_rescued',
        value: { failed: [], rescuedByArc: true },
        detail: { rescuedByArc: ['dmarc', 'dkim'] },
      });
    });

    it('rescues the published DMARC reject too', () => {
      const result = authenticateMail(
        sesMail,
        forwarded,
        policy({ require: [], trusted_forwarders: ['lists.forwarder.example'] }),
      );
      expect(result).toMatchObject({ ok: true, reason: 'arc_rescued', value: { rescuedByArc: true } });
    });

    it('does not rescue SPF', () => {
      const result = authenticateMail(
        sesMail,
        forwarded,
        policy({ require: ['spf', 'dkim'], trusted_forwarders: ['lists.forwarder.example'] }),
      );
      expect(result).toMatchObject({ ok: false, outcome: 'quarantined', reason: 'spf_failed' });
    });

    it('does not rescue when the sealer is not trusted', () => {
      const result = authenticateMail(
        sesMail,
        forwarded,
        policy({ require: ['dkim'], trusted_forwarders: ['other.example'] }),
      );
      expect(result).toMatchObject({ ok: false, reason: 'dkim_failed' });
    });

    it('does not rescue a trusted sealer whose chain failed, or a chain with no sealer', () => {
      const trusting = policy({ require: ['dkim'], trusted_forwarders: ['lists.forwarder.example'] });
      const failedChain = {
        ...forwarded,
        arc: { result: 'fail' as const, sealer: 'lists.forwarder.example' },
      };
      const noSealer = { ...forwarded, arc: { result: 'pass' as const } };
      expect(authenticateMail(sesMail, failedChain, trusting)).toMatchObject({
        ok: false,
        reason: 'dkim_failed',
      });
      expect(authenticateMail(sesMail, noSealer, trusting)).toMatchObject({
        ok: false,
        reason: 'dkim_failed',
      });
    });

    it('does not rescue a virus', () => {
      const result = authenticateMail(
        sesMail,
        { ...forwarded, virus: 'FAIL' },
        policy({ trusted_forwarders: ['lists.forwarder.example'] }),
      );
      expect(result).toMatchObject({ ok: false, reason: 'virus_detected' });
    });
  });
});
