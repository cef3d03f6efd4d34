import { createReadStream } from 'node:fs';
import { Readable } from 'node:stream';
import { describe, expect, it } from 'vitest';
import { AuthenticationPolicySchema, LimitsSchema } from '../../core/config/schema.ts';
import type { ParsedMail, ReceiptVerdicts } from '../../core/model.ts';
import { authenticateMail } from '../../core/stages/authenticate/index.ts';
import { parseMail } from '../../core/stages/parse/index.ts';

const limits = LimitsSchema.parse({});

const parse = async (open: () => Readable): Promise<ParsedMail> => {
  const result = await parseMail(async () => open(), { limits });
  if (!result.ok) throw new Error(`parse stopped: ${result.reason}: ${result.message}`);
  return result.value;
};

const sesVerdicts: ReceiptVerdicts = {
  spf: 'FAIL',
  dkim: 'FAIL',
  dmarc: 'FAIL',
  dmarcPolicy: 'reject',
  spam: 'PASS',
  virus: 'PASS',
  source: 'ses',
};

/** A mail as SES stores it: its own headers on top, then the sender's, with a forged SES result. */
const stored = [
  'Return-Path: <ceo@example.org>',
  'Received: from mail.attacker.example [198.51.100.9]) by inbound-smtp.eu-west-1.amazonaws.com with SMTP id abc for support+game@desk.example.com; Tue, 04 Jun 2024 09:12:44 +0000 (UTC)',
  'X-SES-Spam-Verdict: PASS',
  'X-SES-Virus-Verdict: PASS',
  'Authentication-Results: amazonses.com;',
  ' spf=fail (spfCheck: domain of example.org does not designate 198.51.100.9 as permitted sender) client-ip=198.51.100.9;',
  ' dkim=fail header.i=@example.org; dmarc=fail header.from=example.org;',
  'X-SES-RECEIPT: AEFBQUFBQUFBQUFH',
  'Authentication-Results: amazonses.com; spf=pass; dkim=pass header.i=@example.org; dmarc=pass header.from=example.org',
  'From: CEO <ceo@example.org>',
  'To: support+game@desk.example.com',
  'Subject: Urgent: wire transfer',
  'Message-ID: <forged-1@attacker.example>',
  'Date: Tue, 04 Jun 2024 09:12:40 +0000',
  '',
  'Please pay the attached invoice today.',
  '',
].join('\r\n');

describe('authenticateMail on mail from the real parse stage', () => {
  it('quarantines a forged DMARC pass and counts the forged SES header it ignored', async () => {
    // Prepare
    const mail = await parse(() => Readable.from([Buffer.from(stored)]));
    // Act
    const result = authenticateMail(mail, sesVerdicts, AuthenticationPolicySchema.parse({}));
    // Assess
    expect(result).toMatchObject({
      ok: false,
      outcome: 'quarantined',
      reason: 'dmarc_policy_reject',
      detail: { ignoredAuthResults: 1, spoofedSesAuthResults: 1 },
    });
  });

  it('ignores the Gmail Authentication-Results of a real forwarded mail (corpus sparrow.eml)', async () => {
    // Prepare
    const url = new URL('../fixtures/corpus/emails/mailparser/history-2012/sparrow.eml', import.meta.url);
    const mail = await parse(() => createReadStream(url));
    // Act
    const result = authenticateMail(
      mail,
      { ...sesVerdicts, spf: 'PASS', dkim: 'PASS', dmarc: 'PASS', dmarcPolicy: undefined },
      AuthenticationPolicySchema.parse({}),
    );
    // Assess
    expect(result).toMatchObject({
      ok: true,
      value: { ignoredAuthResults: 1 },
      detail: { ignoredAuthResults: 1 },
    });
  });
});
