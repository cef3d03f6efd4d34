import { describe, expect, it } from 'vitest';
import { computeLocalVerdicts } from '../../adapters/local/verdicts.ts';
import { fakeDns } from './fake-dns.ts';

// Two `ARC-Seal: i=1` headers make mailauth report `arc.chain: false`; the adapter used to spread it.
const doubleSeal = [
  'ARC-Seal: i=1; a=rsa-sha256; t=1717492360; cv=none; d=lists.forwarder.example; s=arc; b=AAAA',
  'ARC-Seal: i=1; a=rsa-sha256; t=1717492361; cv=none; d=evil.example; s=arc; b=BBBB',
  'ARC-Message-Signature: i=1; a=rsa-sha256; c=relaxed/relaxed; d=lists.forwarder.example; s=arc; h=from:to:subject; bh=AAAA; b=AAAA',
  'ARC-Authentication-Results: i=1; lists.forwarder.example; dkim=pass header.d=example.org',
  'From: Jane Doe <jane.doe@example.org>',
  'To: support+game@desk.example.com',
  'Subject: Save files disappear',
  'Message-ID: <double-arc@example.org>',
  'Content-Type: text/plain; charset=utf-8',
  '',
  'Hello.',
  '',
].join('\r\n');

describe('double-arc-seal', () => {
  it('gives a failing ARC verdict instead of throwing', async () => {
    // Prepare
    const resolver = fakeDns({}, { error: 'ENOTFOUND' }).resolver;
    // Act
    const verdicts = await computeLocalVerdicts(
      Buffer.from(doubleSeal),
      { recipients: ['support+game@desk.example.com'], mailFrom: 'jane.doe@example.org' },
      { resolver },
    );
    // Assess
    expect(verdicts.arc?.result).not.toBe('pass');
    expect(verdicts.source).toBe('local');
  });
});
