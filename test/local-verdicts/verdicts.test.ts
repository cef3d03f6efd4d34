import { createSeal, type DKIMSignOptions, dkimSign } from 'mailauth';
import { beforeAll, describe, expect, it } from 'vitest';
import { computeLocalVerdicts, parseReceivedHop } from '../../adapters/local/verdicts.ts';
import type { Envelope } from '../../core/model.ts';
import { authenticateMail } from '../../core/stages/authenticate/index.ts';
import { mailFromEml } from '../support/mail-factory.ts';
import { dmarc, fakeDns, type SigningKey, signingKey, spf, type Zone } from './fake-dns.ts';

const message = [
  'From: Jane Doe <jane.doe@example.org>',
  'To: support+game@desk.example.com',
  'Subject: Save files disappear after the 1.4 update',
  'Date: Tue, 04 Jun 2024 09:12:40 +0000',
  'Message-ID: <8f2e1c7a@example.org>',
  'MIME-Version: 1.0',
  'Content-Type: text/plain; charset=utf-8',
  '',
  'Hello, since the 1.4 update my save files are gone.',
  '',
].join('\r\n');

const fromCustomer: Envelope = {
  recipients: ['support+game@desk.example.com'],
  mailFrom: 'jane.doe@example.org',
  remoteIp: '192.0.2.10',
  helo: 'mail.example.org',
};

let sender: SigningKey;
let forwarder: SigningKey;
let signed: string;
let zone: Zone;

/**
 * mailauth signs with `signatureData` only; its bundled typings also demand the top-level fields,
 * which the signer ignores, so they are repeated here to satisfy them.
 */
const signOptions = (signingDomain: string, selector: string, privateKey: string): DKIMSignOptions => ({
  signingDomain,
  selector,
  privateKey,
  signatureData: [{ signingDomain, selector, privateKey }],
});

const sign = async (raw: string, key: SigningKey, domain = 'example.org'): Promise<string> => {
  const result = await dkimSign(raw, signOptions(domain, 's1', key.privateKey));
  expect(result.errors).toEqual([]);
  return result.signatures + raw;
};

beforeAll(async () => {
  sender = signingKey();
  forwarder = signingKey();
  signed = await sign(message, sender);
  zone = {
    'example.org': { TXT: spf('v=spf1 ip4:192.0.2.10 -all') },
    'mail.example.org': { TXT: spf('v=spf1 ip4:192.0.2.10 -all') },
    's1._domainkey.example.org': { TXT: sender.record },
    '_dmarc.example.org': { TXT: dmarc('v=DMARC1; p=reject; sp=quarantine; rua=mailto:dmarc@example.org') },
    'lists.forwarder.example': { TXT: spf('v=spf1 ip4:203.0.113.5 -all') },
    'arc1._domainkey.lists.forwarder.example': { TXT: forwarder.record },
  };
});

describe('computeLocalVerdicts', () => {
  it('passes SPF, DKIM and DMARC for a signed mail from an authorised IP; spam and virus are DISABLED', async () => {
    // Prepare
    const dns = fakeDns(zone);
    // Act
    const verdicts = await computeLocalVerdicts(Buffer.from(signed), fromCustomer, {
      resolver: dns.resolver,
    });
    // Assess
    expect(verdicts).toEqual({
      spf: 'PASS',
      dkim: 'PASS',
      dmarc: 'PASS',
      dmarcDomain: 'example.org',
      spam: 'DISABLED',
      virus: 'DISABLED',
      arc: { result: 'none' },
      source: 'local',
    });
    expect(dns.calls).toEqual(['TXT s1._domainkey.example.org', 'TXT example.org', 'TXT _dmarc.example.org']);
  });

  it('fails DKIM when the body was changed after signing, and DMARC with the published p=reject', async () => {
    // Prepare: tampered body, sent from an IP the SPF record does not list.
    const tampered = signed.replace('save files are gone', 'save files are fine');
    const dns = fakeDns(zone);
    // Act
    const verdicts = await computeLocalVerdicts(
      Buffer.from(tampered),
      { ...fromCustomer, remoteIp: '198.51.100.66' },
      {
        resolver: dns.resolver,
      },
    );
    // Assess
    expect(verdicts).toMatchObject({ spf: 'FAIL', dkim: 'FAIL', dmarc: 'FAIL', dmarcPolicy: 'reject' });
  });

  it('reports the subdomain policy (sp=) for a subdomain sender, as SES does', async () => {
    // Prepare
    const raw = message.replace('jane.doe@example.org', 'billing@shop.example.org');
    const dns = fakeDns(zone);
    // Act
    const verdicts = await computeLocalVerdicts(
      Buffer.from(raw),
      { ...fromCustomer, mailFrom: 'billing@shop.example.org' },
      {
        resolver: dns.resolver,
      },
    );
    // Assess
    expect(verdicts).toMatchObject({ spf: 'GRAY', dkim: 'GRAY', dmarc: 'FAIL', dmarcPolicy: 'quarantine' });
    expect(dns.calls).toContain('TXT _dmarc.shop.example.org');
    // The From domain it evaluated, not mailauth's `dmarc.domain` (the organisational example.org).
    expect(verdicts.dmarcDomain).toBe('shop.example.org');
  });

  /** The verdicts for the test message with another From header. */
  const verdictsWithFrom = (from: string) =>
    computeLocalVerdicts(
      Buffer.from(message.replace('From: Jane Doe <jane.doe@example.org>', `From: ${from}`)),
      fromCustomer,
      { resolver: fakeDns(zone).resolver },
    );

  it('dmarc identity mismatch: names the mailbox it evaluated, the one outside a group From', async () => {
    // mailauth reads `g: Jane <jane.doe@example.org>;, mallory@evil.example` as one mailbox, Mallory's.
    const verdicts = await verdictsWithFrom('g: Jane Doe <jane.doe@example.org>;, mallory@evil.example');
    expect(verdicts.dmarcDomain).toBe('evil.example');
  });

  it('names no DMARC domain when it evaluated none (two From mailboxes)', async () => {
    const verdicts = await verdictsWithFrom('jane.doe@example.org, mallory@evil.example');
    expect(verdicts.dmarc).toBe('NONE');
    expect(verdicts.dmarcDomain).toBeUndefined();
  });

  it('says GRAY for an unsigned mail from a domain that publishes nothing', async () => {
    // Prepare
    const raw = message.replaceAll('example.org', 'quiet.example.net');
    const dns = fakeDns(zone);
    // Act
    const verdicts = await computeLocalVerdicts(
      Buffer.from(raw),
      { ...fromCustomer, mailFrom: 'jane@quiet.example.net' },
      {
        resolver: dns.resolver,
      },
    );
    // Assess
    expect(verdicts).toMatchObject({ spf: 'GRAY', dkim: 'GRAY', dmarc: 'GRAY' });
    expect(verdicts.dmarcPolicy).toBeUndefined();
  });

  it('turns a DNS outage into PROCESSING_FAILED, never PASS', async () => {
    // Prepare
    const dns = fakeDns({}, { error: 'ETIMEOUT' });
    // Act
    const verdicts = await computeLocalVerdicts(Buffer.from(signed), fromCustomer, {
      resolver: dns.resolver,
    });
    // Assess
    expect(verdicts).toMatchObject({
      spf: 'PROCESSING_FAILED',
      dkim: 'PROCESSING_FAILED',
      dmarc: 'PROCESSING_FAILED',
    });
    expect(dns.calls.length).toBeGreaterThan(0);
  });

  it('turns a SERVFAIL on the DMARC record alone into a DMARC PROCESSING_FAILED', async () => {
    const dns = fakeDns({ ...zone, '_dmarc.example.org': { TXT: { error: 'ESERVFAIL' } } });
    const verdicts = await computeLocalVerdicts(Buffer.from(signed), fromCustomer, {
      resolver: dns.resolver,
    });
    expect(verdicts).toMatchObject({ spf: 'PASS', dkim: 'PASS', dmarc: 'PROCESSING_FAILED' });
  });

  it('fails DKIM signed with a key weaker than 1024 bits', async () => {
    // Prepare
    const { generateKeyPairSync } = await import('node:crypto');
    const weak = generateKeyPairSync('rsa', { modulusLength: 512 });
    const raw = await dkimSign(
      message,
      signOptions('example.org', 'weak', weak.privateKey.export({ type: 'pkcs8', format: 'pem' }).toString()),
    );
    const record = `v=DKIM1; k=rsa; p=${weak.publicKey.export({ type: 'spki', format: 'der' }).toString('base64')}`;
    const dns = fakeDns({ ...zone, 'weak._domainkey.example.org': { TXT: [[record]] } });
    // Act
    const verdicts = await computeLocalVerdicts(Buffer.from(raw.signatures + message), fromCustomer, {
      resolver: dns.resolver,
    });
    // Assess
    expect(verdicts.dkim).toBe('FAIL');
  });

  describe('where the client IP for SPF comes from', () => {
    const received = (by: string) =>
      `Received: from mail.example.org (mail.example.org [192.0.2.10])\r\n by ${by} with ESMTPS id 7d8e9f0a\r\n for <support+game@desk.example.com>; Tue, 04 Jun 2024 09:12:44 +0000\r\n`;
    const bareEml: Envelope = { recipients: [], mailFrom: undefined };

    it('is NONE without a client IP, and no SPF question is asked', async () => {
      // Prepare
      const dns = fakeDns(zone);
      // Act
      const verdicts = await computeLocalVerdicts(Buffer.from(signed), bareEml, { resolver: dns.resolver });
      // Assess
      expect(verdicts).toMatchObject({ spf: 'NONE', dkim: 'PASS', dmarc: 'PASS' });
      expect(dns.calls).not.toContain('TXT example.org');
    });

    it('believes the topmost Received header of a trusted host, with the Return-Path it wrote', async () => {
      // Prepare
      const raw = `Return-Path: <jane.doe@example.org>\r\n${received('mx.desk.example.com')}${signed}`;
      const dns = fakeDns(zone);
      // Act
      const verdicts = await computeLocalVerdicts(Buffer.from(raw), bareEml, {
        resolver: dns.resolver,
        trustedHosts: ['MX.desk.example.com'],
      });
      // Assess
      expect(verdicts.spf).toBe('PASS');
      expect(dns.calls).toContain('TXT example.org');
    });

    it('does not believe a Received header written by a host it does not trust', async () => {
      const raw = `Return-Path: <jane.doe@example.org>\r\n${received('mx.attacker.example')}${signed}`;
      const dns = fakeDns(zone);
      const verdicts = await computeLocalVerdicts(Buffer.from(raw), bareEml, {
        resolver: dns.resolver,
        trustedHosts: ['mx.desk.example.com'],
      });
      expect(verdicts.spf).toBe('NONE');
      expect(dns.calls).not.toContain('TXT example.org');
    });

    it('does not look below the topmost Received header', async () => {
      const raw = `${received('mx.attacker.example')}${received('mx.desk.example.com')}${signed}`;
      const verdicts = await computeLocalVerdicts(Buffer.from(raw), bareEml, {
        resolver: fakeDns(zone).resolver,
        trustedHosts: ['mx.desk.example.com'],
      });
      expect(verdicts.spf).toBe('NONE');
    });

    it('checks postmaster@<helo> for the null sender (RFC 7208 §2.4)', async () => {
      // Prepare
      const dns = fakeDns(zone);
      // Act
      const verdicts = await computeLocalVerdicts(
        Buffer.from(signed),
        { ...fromCustomer, mailFrom: '' },
        {
          resolver: dns.resolver,
        },
      );
      // Assess
      expect(verdicts.spf).toBe('PASS');
      expect(dns.calls).toContain('TXT mail.example.org');
    });
  });

  describe('ARC', () => {
    /** A mailing list changes the subject and adds a footer, then seals what it saw (cv=none, i=1). */
    const forwardThroughList = async (): Promise<string> => {
      const modified = `${signed.replace('Subject: Save', 'Subject: [game-users] Save')}--\r\nYou received this because you are subscribed to game-users.\r\n`;
      const seal = await createSeal(Buffer.from(modified), {
        seal: {
          signingDomain: 'lists.forwarder.example',
          selector: 'arc1',
          privateKey: forwarder.privateKey,
          authResults:
            'lists.forwarder.example; dkim=pass header.d=example.org; spf=pass smtp.mailfrom=example.org; dmarc=pass header.from=example.org',
          cv: 'none',
        },
      });
      return `${seal.headers.join('\r\n')}\r\n${modified}`;
    };
    const fromList: Envelope = {
      recipients: ['support+game@desk.example.com'],
      mailFrom: 'game-users-bounces@lists.forwarder.example',
      remoteIp: '203.0.113.5',
      helo: 'mx.lists.forwarder.example',
    };

    it('reports a passing chain and its sealer while DKIM and DMARC fail after the list’s changes', async () => {
      // Prepare
      const raw = await forwardThroughList();
      const dns = fakeDns(zone);
      // Act
      const verdicts = await computeLocalVerdicts(Buffer.from(raw), fromList, { resolver: dns.resolver });
      // Assess
      expect(verdicts).toEqual({
        spf: 'PASS',
        dkim: 'FAIL',
        dmarc: 'FAIL',
        dmarcPolicy: 'reject',
        dmarcDomain: 'example.org',
        spam: 'DISABLED',
        virus: 'DISABLED',
        arc: { result: 'pass', sealer: 'lists.forwarder.example' },
        source: 'local',
      });
      expect(dns.calls).toContain('TXT arc1._domainkey.lists.forwarder.example');
    });

    it('reports a failing chain when the mail changed after sealing', async () => {
      const raw = (await forwardThroughList()).replace('subscribed to game-users', 'subscribed to nothing');
      const verdicts = await computeLocalVerdicts(Buffer.from(raw), fromList, {
        resolver: fakeDns(zone).resolver,
      });
      expect(verdicts.arc).toEqual({ result: 'fail', sealer: 'lists.forwarder.example' });
    });

    it('lets authenticate rescue the forwarded mail only for a trusted sealer (end to end)', async () => {
      // Prepare
      const raw = await forwardThroughList();
      const verdicts = await computeLocalVerdicts(Buffer.from(raw), fromList, {
        resolver: fakeDns(zone).resolver,
      });
      const mail = mailFromEml(raw);
      const base = {
        require: ['dkim' as const, 'dmarc' as const],
        on_fail: 'quarantine' as const,
        fail_label: 'postdesk::unverified',
        honour_dmarc_policy: true,
      };
      // Act
      const trusted = authenticateMail(mail, verdicts, {
        ...base,
        trusted_forwarders: ['lists.forwarder.example'],
      });
      const untrusted = authenticateMail(mail, verdicts, { ...base, trusted_forwarders: [] });
      // Assess
      expect(trusted).toMatchObject({
        ok: true,
        reason: 'arc_rescued',
        value: { rescuedByArc: true, failed: [] },
      });
      expect(untrusted).toMatchObject({ ok: false, outcome: 'quarantined', reason: 'dmarc_failed' });
    });
  });
});

describe('parseReceivedHop', () => {
  it.each([
    [
      'from mail.example.org (mail.example.org [192.0.2.10]) by mx.desk.example.com with ESMTPS id 1; Tue, 4 Jun 2024',
      { helo: 'mail.example.org', ip: '192.0.2.10', by: 'mx.desk.example.com' },
    ],
    [
      'from [198.51.100.7] (helo=laptop) by MX.Desk.Example.com; Tue, 4 Jun 2024',
      { helo: '198.51.100.7', ip: '198.51.100.7', by: 'mx.desk.example.com' },
    ],
    [
      'from mx6.example.org (mx6.example.org [IPv6:2001:db8::25]) by mx.desk.example.com; Tue, 4 Jun 2024',
      { helo: 'mx6.example.org', ip: '2001:db8::25', by: 'mx.desk.example.com' },
    ],
    [
      'from evil (authenticated by mx.desk.example.com [192.0.2.99]) by relay.attacker.example; Tue',
      { helo: 'evil', ip: '192.0.2.99', by: 'relay.attacker.example' },
    ],
    ['by mx.desk.example.com with LMTP; Tue, 4 Jun 2024', { by: 'mx.desk.example.com' }],
    ['from host ([999.1.1.1]) by mx; Tue', { helo: 'host', by: 'mx' }],
  ])('reads %j', (value, expected) => {
    expect(parseReceivedHop(value)).toEqual(expected);
  });
});
