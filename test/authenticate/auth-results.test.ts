import { describe, expect, it } from 'vitest';
import type { ReceiptVerdicts } from '../../core/model.ts';
import {
  authenticateMail,
  authservId,
  countIgnoredAuthResults,
} from '../../core/stages/authenticate/index.ts';
import { buildMail } from '../support/mail-factory.ts';

const SES_TOP =
  'amazonses.com; spf=fail client-ip=198.51.100.9; dkim=fail header.i=@example.org; dmarc=fail header.from=example.org;';
const FORGED = 'amazonses.com; spf=pass; dkim=pass header.i=@example.org; dmarc=pass header.from=example.org';
const GMAIL =
  'mx.google.com; spf=neutral (google.com: 209.85.220.171 is neither permitted nor denied) smtp.mail=a@node.ee';

const mailWith = (...authResults: string[]) =>
  buildMail([
    ['Return-Path', '<jane.doe@example.org>'],
    ...authResults.map((value) => ['Authentication-Results', value] as const),
    ['From', 'Jane Doe <jane.doe@example.org>'],
    ['Subject', 'hello'],
  ]);

const failing: ReceiptVerdicts = {
  spf: 'FAIL',
  dkim: 'FAIL',
  dmarc: 'FAIL',
  dmarcPolicy: 'reject',
  spam: 'PASS',
  virus: 'PASS',
  source: 'ses',
};

describe('authservId', () => {
  it.each([
    [SES_TOP, 'amazonses.com'],
    ['AmazonSES.com;spf=pass', 'amazonses.com'],
    ['amazonses.com 1; none', 'amazonses.com'],
    ['(comment) amazonses.com (another); dkim=pass', 'amazonses.com'],
    ['  mx.google.com;\r\n spf=pass', 'mx.google.com'],
    ['', ''],
  ])('reads %j as %j', (value, id) => {
    expect(authservId(value)).toBe(id);
  });
});

describe('countIgnoredAuthResults', () => {
  it('trusts only SES’s topmost header on an SES mail', () => {
    expect(countIgnoredAuthResults(mailWith(SES_TOP), 'ses')).toEqual({ ignored: 0, spoofedSes: 0 });
  });

  it('ignores headers from earlier hops below SES’s', () => {
    expect(countIgnoredAuthResults(mailWith(SES_TOP, GMAIL, GMAIL), 'ses')).toEqual({
      ignored: 2,
      spoofedSes: 0,
    });
  });

  it('counts an amazonses.com header lower down as a forgery', () => {
    expect(countIgnoredAuthResults(mailWith(SES_TOP, FORGED), 'ses')).toEqual({ ignored: 1, spoofedSes: 1 });
  });

  it('trusts nothing when the topmost header is not SES’s', () => {
    expect(countIgnoredAuthResults(mailWith(GMAIL, FORGED), 'ses')).toEqual({ ignored: 2, spoofedSes: 1 });
  });

  it('trusts nothing when the verdicts did not come from SES: a topmost amazonses.com is then forged', () => {
    expect(countIgnoredAuthResults(mailWith(FORGED), 'local')).toEqual({ ignored: 1, spoofedSes: 1 });
    expect(countIgnoredAuthResults(mailWith(FORGED), 'none')).toEqual({ ignored: 1, spoofedSes: 1 });
  });

  it('is zero without the header', () => {
    expect(countIgnoredAuthResults(mailWith(), 'ses')).toEqual({ ignored: 0, spoofedSes: 0 });
  });
});

describe('authenticateMail and forged Authentication-Results', () => {
  it('keeps the receipt’s FAIL although a header in the mail claims SES passed everything', () => {
    // Prepare: the sender wrote "amazonses.com; dkim=pass; dmarc=pass" below SES's real header.
    const mail = mailWith(SES_TOP, FORGED);
    // Act
    const result = authenticateMail(mail, failing, {
      require: ['dkim', 'dmarc'],
      on_fail: 'quarantine',
      fail_label: 'postdesk::unverified',
      honour_dmarc_policy: true,
      trusted_forwarders: [],
    });
    // Assess
    expect(result).toMatchObject({
      ok: false,
      outcome: 'quarantined',
      reason: 'dmarc_failed',
      detail: { ignoredAuthResults: 1, spoofedSesAuthResults: 1 },
    });
  });

  it('reports the ignored count in the assessment', () => {
    const result = authenticateMail(
      mailWith(SES_TOP, GMAIL),
      { ...failing, dmarc: 'PASS' },
      {
        require: [],
        on_fail: 'quarantine',
        fail_label: 'postdesk::unverified',
        honour_dmarc_policy: true,
        trusted_forwarders: [],
      },
    );
    expect(result).toMatchObject({ ok: true, value: { ignoredAuthResults: 1 } });
  });
});
