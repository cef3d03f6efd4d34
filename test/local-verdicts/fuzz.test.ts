import fc from 'fast-check';
import { createSeal, type DKIMSignOptions, dkimSign } from 'mailauth';
import { beforeAll, describe, expect, it } from 'vitest';
import { computeLocalVerdicts, verdictsFromMailauth } from '../../adapters/local/verdicts.ts';
import { type Envelope, type ReceiptVerdicts, VerdictStatus } from '../../core/model.ts';
import { createHarness, GAME_ADDRESS } from '../reliability/harness.ts';
import { expectDecision } from '../reliability/support.ts';
import { dmarc, fakeDns, type SigningKey, signingKey, spf, type Zone } from './fake-dns.ts';

/**
 * Local verdicts never throw for what is in the mail. Real mailauth over every combination of the
 * headers it reads for DKIM, ARC and DMARC (duplicated, truncated, garbage, `i=` 0/1/2/99 or
 * missing, real signatures mixed in), then the whole pipeline on the verdicts it gave: each case
 * must end with verdicts from the closed lists and a decision. Seeded, so a failure replays.
 */

const SEED = Number(process.env['FUZZ_SEED'] ?? 20261202);
const RUNS = 300;

const body = 'Hello, my save files are gone since the update.\r\n';
const baseHeaders = [
  'From: Jane Doe <jane.doe@example.org>',
  `To: ${GAME_ADDRESS}`,
  'Subject: Save files disappear',
  'Date: Tue, 04 Jun 2024 09:12:40 +0000',
  'Message-ID: <fuzz@example.org>',
  'MIME-Version: 1.0',
  'Content-Type: text/plain; charset=utf-8',
];
const baseMail = `${baseHeaders.join('\r\n')}\r\n\r\n${body}`;

const envelope: Envelope = {
  recipients: [GAME_ADDRESS],
  mailFrom: 'jane.doe@example.org',
  remoteIp: '192.0.2.10',
  helo: 'mail.example.org',
};

let sender: SigningKey;
let forwarder: SigningKey;
let zone: Zone;
/** Header lines of a real DKIM signature and a real ARC set over `baseMail`. */
let realLines: string[] = [];

const signOptions = (signingDomain: string, selector: string, privateKey: string): DKIMSignOptions => ({
  signingDomain,
  selector,
  privateKey,
  signatureData: [{ signingDomain, selector, privateKey }],
});

/** Splits generated header text into its unfolded fields (continuation lines stay with their field). */
const fields = (text: string): string[] =>
  text
    .split(/\r\n(?![ \t])/)
    .map((line) => line.trimEnd())
    .filter((line) => line !== '');

beforeAll(async () => {
  sender = signingKey();
  forwarder = signingKey();
  const signature = await dkimSign(baseMail, signOptions('example.org', 's1', sender.privateKey));
  const seal = await createSeal(Buffer.from(baseMail), {
    seal: {
      signingDomain: 'lists.forwarder.example',
      selector: 'arc1',
      privateKey: forwarder.privateKey,
      authResults:
        'lists.forwarder.example; dkim=pass header.d=example.org; spf=pass smtp.mailfrom=example.org',
      cv: 'none',
    },
  });
  realLines = [...fields(signature.signatures), ...seal.headers.flatMap(fields)];
  zone = {
    'example.org': { TXT: spf('v=spf1 ip4:192.0.2.10 -all') },
    's1._domainkey.example.org': { TXT: sender.record },
    '_dmarc.example.org': { TXT: dmarc('v=DMARC1; p=reject') },
    'arc1._domainkey.lists.forwarder.example': { TXT: forwarder.record },
  };
});

const instance = fc.constantFrom('i=0', 'i=1', 'i=2', 'i=99', 'i=-1', 'i=x', 'i=', '');
const garbage = fc.constantFrom(
  '',
  ';;;',
  '=',
  'a=b=c',
  '\u0000',
  'b=',
  'd=; s=;',
  'é=ü',
  '(comment',
  'x'.repeat(300),
);
const cv = fc.constantFrom('cv=none', 'cv=pass', 'cv=fail', 'cv=maybe', '');
const domain = fc.constantFrom('d=lists.forwarder.example', 'd=example.org', 'd=evil.example', 'd=', '');

const arcSeal = fc
  .tuple(instance, cv, domain, garbage)
  .map(([i, c, d, g]) => `ARC-Seal: ${i}; a=rsa-sha256; t=1717492360; ${c}; ${d}; s=arc1; b=AAAA${g}`);
const arcMessageSignature = fc
  .tuple(instance, domain, garbage)
  .map(
    ([i, d, g]) =>
      `ARC-Message-Signature: ${i}; a=rsa-sha256; c=relaxed/relaxed; ${d}; s=arc1; h=from:to:subject; bh=AAAA; b=AAAA${g}`,
  );
const arcAuthResults = fc
  .tuple(instance, garbage)
  .map(
    ([i, g]) =>
      `ARC-Authentication-Results: ${i}; lists.forwarder.example; dkim=pass header.d=example.org${g}`,
  );
const dkimSignature = fc
  .tuple(
    domain,
    garbage,
    fc.constantFrom('v=1', 'v=2', ''),
    fc.constantFrom('a=rsa-sha256', 'a=ed25519-sha256', 'a=md5', ''),
  )
  .map(
    ([d, g, v, a]) =>
      `DKIM-Signature: ${v}; ${a}; c=relaxed/relaxed; ${d}; s=s1; h=from:subject; bh=AAAA; b=BBBB${g}`,
  );
const authResults = fc
  .tuple(fc.constantFrom('amazonses.com', 'desk.example.com', 'evil.example', ''), garbage)
  .map(
    ([id, g]) => `Authentication-Results: ${id}; spf=pass; dkim=pass header.d=example.org; dmarc=pass${g}`,
  );
const real = fc.nat().map((n) => realLines[n % Math.max(1, realLines.length)] ?? 'X-Empty: 1');

/** One header line, possibly cut short (a truncated field) or repeated (a duplicated one). */
const header = fc
  .tuple(
    fc.oneof(arcSeal, arcMessageSignature, arcAuthResults, dkimSignature, authResults, real),
    fc.option(fc.nat(), { nil: undefined }),
    fc.integer({ min: 1, max: 3 }),
  )
  .map(([line, cut, copies]) => {
    const kept = cut === undefined ? line : line.slice(0, Math.max(line.indexOf(':') + 1, cut % line.length));
    return Array.from({ length: copies }, () => kept);
  });
/** The real DKIM signature and ARC set whole, so mailauth verifies a chain and meets the fuzz around it. */
const realSet = fc.constant(null).map(() => [...realLines]);

const mailArb = fc
  .array(fc.oneof({ arbitrary: header, weight: 6 }, { arbitrary: realSet, weight: 1 }), { maxLength: 8 })
  .map((groups) => {
    const lines = groups.flat();
    return `${[...lines, ...baseHeaders].join('\r\n')}\r\n\r\n${body}`;
  });

const ARC_RESULTS = ['pass', 'fail', 'none'];

const expectVerdicts = (verdicts: ReceiptVerdicts): void => {
  for (const status of [verdicts.spf, verdicts.dkim, verdicts.dmarc]) expect(VerdictStatus).toContain(status);
  expect(ARC_RESULTS).toContain(verdicts.arc?.result);
  expect(verdicts.source).toBe('local');
};

describe('local verdicts never throw for what is in the mail', () => {
  it('every mailauth result shape maps to a verdict: false steps, missing fields, nulls, chain: false', () => {
    // Prepare
    const shapes: unknown[] = [
      null,
      undefined,
      {},
      { dkim: null, spf: null, dmarc: null, arc: null },
      {
        dkim: { results: null },
        spf: { status: null },
        dmarc: { status: null, policy: null },
        arc: { status: null },
      },
      { dkim: { results: [null, {}, { status: null }] }, spf: false, dmarc: false, arc: false },
      { arc: { status: { result: 'fail' }, chain: false } },
      { arc: { status: { result: 'pass' }, chain: [null, { i: 'x' }, { i: 1, 'arc-seal': null }] } },
      {
        arc: {
          status: { result: 'pass' },
          chain: [{ i: 2, 'arc-seal': { parsed: { d: { value: 'Lists.Example' } } } }],
        },
      },
      {
        dkim: { results: [null, { status: { result: 'pass' } }] },
        dmarc: { status: { result: 'fail' }, policy: 'REJECT' },
      },
    ];
    // Act
    const mapped = shapes.map((shape) =>
      verdictsFromMailauth(shape as Parameters<typeof verdictsFromMailauth>[0], true),
    );
    // Assess
    for (const verdicts of mapped) expectVerdicts(verdicts);
    expect(mapped[6]?.arc).toEqual({ result: 'fail' });
    expect(mapped[7]?.arc).toEqual({ result: 'pass' });
    expect(mapped[8]?.arc).toEqual({ result: 'pass', sealer: 'lists.example' });
    expect(mapped[9]).toMatchObject({ dkim: 'PASS', dmarc: 'FAIL', dmarcPolicy: 'reject' });
  });

  it(`fuzz (seed ${SEED}, ${RUNS} cases, real mailauth): a verdict for each ARC/DKIM/Authentication-Results combination, and a decision`, async () => {
    // Prepare
    const harness = createHarness();
    const dns = fakeDns(zone);
    let cases = 0;
    // Act + Assess
    await fc.assert(
      fc.asyncProperty(mailArb, async (raw) => {
        cases += 1;
        const verdicts = await computeLocalVerdicts(Buffer.from(raw), envelope, { resolver: dns.resolver });
        expectVerdicts(verdicts);
        const trace = await harness.ingest(raw, { verdicts, recipients: [GAME_ADDRESS] });
        expectDecision(trace);
      }),
      { seed: SEED, numRuns: RUNS },
    );
    expect(cases).toBe(RUNS);
    // The real signatures were in the mix: mailauth fetched their keys.
    expect(dns.calls).toContain('TXT s1._domainkey.example.org');
    expect(dns.calls).toContain('TXT arc1._domainkey.lists.forwarder.example');
  }, 120_000);
});
