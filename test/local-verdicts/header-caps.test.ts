import { describe, expect, it } from 'vitest';
import { computeLocalVerdicts } from '../../adapters/local/verdicts.ts';
import { LimitsSchema } from '../../core/config/schema.ts';
import type { Envelope } from '../../core/model.ts';
import { fakeDns, spf } from './fake-dns.ts';

const envelope: Envelope = {
  recipients: ['support+game@desk.example.com'],
  mailFrom: 'jane.doe@example.org',
  remoteIp: '192.0.2.10',
  helo: 'mail.example.org',
};

/** A mail whose Subject is folded into `lines` lines. */
const folded = (lines: number): Buffer =>
  Buffer.from(
    [
      'From: Jane Doe <jane.doe@example.org>',
      'To: support+game@desk.example.com',
      `Subject: x${'\r\n word'.repeat(lines - 1)}`,
      'Message-ID: <caps@example.org>',
      '',
      'Hello.',
      '',
    ].join('\r\n'),
  );

const zone = { 'example.org': { TXT: spf('v=spf1 ip4:192.0.2.10 -all') } };

describe('local verdicts: header caps before mailauth', () => {
  it('never gives mailauth a header over max_header_lines: no DNS question, verdicts PROCESSING_FAILED', async () => {
    // Prepare
    const dns = fakeDns(zone);
    // Act
    const verdicts = await computeLocalVerdicts(folded(6_000), envelope, { resolver: dns.resolver });
    // Assess
    expect(dns.calls).toEqual([]);
    expect(verdicts).toMatchObject({
      spf: 'PROCESSING_FAILED',
      dkim: 'PROCESSING_FAILED',
      dmarc: 'PROCESSING_FAILED',
    });
  });

  it('never gives mailauth a header over max_header_bytes', async () => {
    // Prepare
    const dns = fakeDns(zone);
    const limits = LimitsSchema.parse({ max_header_bytes: 4096 });
    // Act
    const verdicts = await computeLocalVerdicts(folded(1_000), envelope, { resolver: dns.resolver, limits });
    // Assess
    expect(dns.calls).toEqual([]);
    expect(verdicts.dkim).toBe('PROCESSING_FAILED');
  });

  it('checks a mail within the caps as usual, and honours raised caps', async () => {
    // Prepare
    const small = fakeDns(zone);
    const raised = fakeDns(zone);
    // Act
    const within = await computeLocalVerdicts(folded(100), envelope, { resolver: small.resolver });
    const withRaisedCap = await computeLocalVerdicts(folded(6_000), envelope, {
      resolver: raised.resolver,
      limits: LimitsSchema.parse({ max_header_lines: 7_000 }),
    });
    // Assess
    for (const verdicts of [within, withRaisedCap]) {
      expect(verdicts).toMatchObject({ spf: 'PASS', dkim: 'GRAY' });
    }
    expect(small.calls).toContain('TXT example.org');
    expect(raised.calls).toContain('TXT example.org');
  });
});
