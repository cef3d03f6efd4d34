import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import type { ReceiptVerdicts } from '../../core/model.ts';
import { senderIdentity } from '../../core/stages/authenticate/sender-identity.ts';
import { createTicketStore } from '../../core/state/tickets.ts';
import { createReplyToken } from '../../core/threading/reply-token.ts';
import { createMemoryForge } from '../support/memory-forge.ts';
import { TEST_REPLY_KEY } from '../support/test-secret.ts';
import { createDesk, deskConfigFor } from './desk.ts';
import { createHarness, deskConfig, GAME_ADDRESS, passingVerdicts, simpleMail } from './support.ts';

/**
 * One sender identity per mail: the From header's one plain mailbox, the one DMARC evaluates. Each
 * attack below posted as Ada before; each now ends in quarantine with its reason, and nothing is
 * attributed to anyone. SES reports DMARC pass in every case, as it does for the mailbox outside a
 * group or for a From whose domain it cannot read.
 */

const ADA_FIRST = 'ada-first@customer.example';

/** A desk holding Ada's ticket, requiring DMARC, with a mail that threads into it by Message-ID. */
const deskWithAdasTicket = async () => {
  const forge = createMemoryForge();
  const harness = createHarness({
    forge,
    config: deskConfig({ authentication: { require: ['spam', 'virus', 'dmarc'] } }),
  });
  const first = await harness.ingest(
    simpleMail({ from: 'Ada Lovelace <ada@customer.example>', messageId: ADA_FIRST }),
  );
  expect(first.outcome).toBe('issue');
  return { harness, forge };
};

const raw = (headers: readonly string[], body = 'I am Ada, send the answer to me.'): Buffer =>
  Buffer.from(
    [
      ...headers,
      `To: ${GAME_ADDRESS}`,
      'Subject: Re: The game crashes on start',
      'Date: Mon, 02 Mar 2026 11:00:00 +0000',
      'Message-ID: <attack@evil.example>',
      `In-Reply-To: <${ADA_FIRST}>`,
      'Content-Type: text/plain; charset=utf-8',
      '',
      body,
      '',
    ].join('\r\n'),
  );

const ATTACKS: [string, string[], 'from_invalid' | 'from_missing'][] = [
  [
    'a From in group syntax (group-syntax From)',
    ['From: g: Ada Lovelace <ada@customer.example>;, mallory@evil.example', 'Reply-To: mallory@evil.example'],
    'from_invalid',
  ],
  [
    'an encoded word as the address (encoded-word address)',
    ['From: =?utf-8?q?Ada?= <=?utf-8?q?ada=40customer.example?=>'],
    'from_invalid',
  ],
  [
    'an empty group with a Sender (Sender-only mail)',
    ['From: undisclosed-recipients:;', 'Sender: ada@customer.example'],
    'from_invalid',
  ],
  ['no From at all, with a Sender (Sender-only mail)', ['Sender: ada@customer.example'], 'from_missing'],
  ['two mailboxes in From', ['From: ada@customer.example, mallory@evil.example'], 'from_invalid'],
];

describe('one sender identity: a From that is not one plain mailbox is never attributed', () => {
  it.each(ATTACKS)('%s: quarantined, no note, nobody added', async (_label, headers, reason) => {
    // Prepare
    const { harness, forge } = await deskWithAdasTicket();
    const state = () =>
      JSON.stringify({ issues: forge.issues('acme/game'), notes: forge.notes('acme/game', 1) });
    const before = state();
    // Act
    const trace = await harness.ingest(raw(headers), { verdicts: passingVerdicts('ses') });
    // Assess
    expect(trace.outcome).toBe('quarantined');
    expect(trace.reason).toBe(reason);
    expect(state()).toBe(before);
  });

  it('two From headers: stopped before anyone is named', async () => {
    const { harness, forge } = await deskWithAdasTicket();
    const trace = await harness.ingest(raw(['From: ada@customer.example', 'From: mallory@evil.example']));
    expect(['quarantined', 'rejected']).toContain(trace.outcome);
    expect(forge.notes('acme/game', 1)).toEqual([]);
    expect(senderIdentity(['ada@customer.example', 'mallory@evil.example'])).toMatchObject({
      reason: 'from_invalid',
    });
  });

  it('a plain From still threads as Ada', async () => {
    const { harness } = await deskWithAdasTicket();
    const trace = await harness.ingest(raw(['From: Ada Lovelace <ada@customer.example>']));
    expect(trace.outcome).toBe('note');
  });

  it.each([
    ['Ada <ada@customer.example>', 'ada@customer.example', 'Ada'],
    ['ada@customer.example', 'ada@customer.example', ''],
    ['"Lovelace, Ada" <ada@customer.example>', 'ada@customer.example', 'Lovelace, Ada'],
    ['=?utf-8?q?Ad=C3=A1?= <ada@customer.example>', 'ada@customer.example', 'Adá'],
    ['山田 <yamada@例え.jp>', 'yamada@例え.jp', '山田'],
  ])('accepts %s', (value, address, name) => {
    expect(senderIdentity([value])).toEqual({ ok: true, mailbox: { address, name } });
  });

  it.each([['Ada'], ['<>'], ['ada@localhost'], ['ada@@customer.example']])(
    'refuses %s as from_invalid',
    (value) => {
      expect(senderIdentity([value])).toMatchObject({ ok: false, reason: 'from_invalid' });
    },
  );
});

// --- the same attacks as real clients send them (test/fixtures/mail/identity/) -------------------

const fixture = (name: string): Buffer =>
  readFileSync(new URL(`../fixtures/mail/identity/${name}`, import.meta.url));

/** The Message-ID every reply fixture answers (see test/fixtures/mail/identity/README.md). */
const ADA_FIRST_ID = '7f3c2a1e-5b9d-4c1a-9e2f-ada0first@customer.example';
const ADA = 'ada@customer.example';
const BOB = 'bob@customer.example';

/** Ada's reply address for issue 1 (participant 0): what a leaked notification would show. */
const replyAddressOf = (participant: string, index: number): string =>
  `support+${createReplyToken(TEST_REPLY_KEY, {
    projectKey: 'game',
    projectPath: 'acme/game',
    issueIid: 1,
    participantIndex: index,
    participant,
  })}@desk.example.com`;

/**
 * A whole desk (thank-you mail on) requiring DMARC, holding Ada's ticket #1 with Bob on Cc as its
 * second participant. SES reports DMARC pass for every mail, as it would for the domain it checked.
 */
const adasDesk = async () => {
  const desk = createDesk({
    config: deskConfigFor(
      'desk.example.com',
      { participants_from_cc: true },
      { authentication: { require: ['spam', 'virus', 'dmarc'] } },
    ),
  });
  const first = await desk.harness.ingest(
    simpleMail({
      from: 'Ada Lovelace <ada@customer.example>',
      messageId: ADA_FIRST_ID,
      headers: [['Cc', 'Bob Builder <bob@customer.example>']],
    }),
  );
  expect(first.outcome).toBe('issue');
  const tickets = createTicketStore(desk.harness.store, { clock: desk.clock });
  const participants = async (iid = 1) =>
    (await tickets.get('acme/game', iid))?.participants.map((participant) => participant.address);
  expect(await participants()).toEqual([ADA, BOB]);
  const forgeState = () => JSON.stringify(desk.forge.issues('acme/game'));
  return { desk, participants, forgeState, sentBefore: desk.sent.length };
};

describe('identity attacks through the whole desk, from real-client-shaped mail', () => {
  const REFUSED: [string, string, 'from_invalid' | 'from_missing', 'token' | 'in-reply-to'][] = [
    [
      'group-syntax From, as a reply with only In-Reply-To',
      'group-from-reply.eml',
      'from_invalid',
      'in-reply-to',
    ],
    [
      'group-syntax From, as a reply with a leaked reply address',
      'group-from-reply.eml',
      'from_invalid',
      'token',
    ],
    ['encoded-word address', 'encoded-word-address.eml', 'from_invalid', 'in-reply-to'],
    ['encoded-word address, to a leaked reply address', 'encoded-word-address.eml', 'from_invalid', 'token'],
    [
      'undisclosed-recipients From with a Sender',
      'undisclosed-from-sender.eml',
      'from_invalid',
      'in-reply-to',
    ],
    ['no From, a Sender (Sender-only mail)', 'sender-no-from.eml', 'from_missing', 'in-reply-to'],
    ['no From, a Sender, to a leaked reply address', 'sender-no-from.eml', 'from_missing', 'token'],
  ];

  it.each(REFUSED)(
    '%s: quarantined, nothing posted, nobody added or mailed',
    async (_name, file, reason, via) => {
      // Prepare
      const { desk, participants, forgeState, sentBefore } = await adasDesk();
      const before = forgeState();
      // Act
      const trace = await desk.harness.ingest(fixture(file), {
        ...(via === 'token' ? { recipients: [replyAddressOf(ADA, 0)] } : {}),
      });
      // Assess
      expect(trace.outcome).toBe('quarantined');
      expect(trace.reason).toBe(reason);
      expect(forgeState()).toBe(before);
      expect(await participants()).toEqual([ADA, BOB]);
      expect(desk.sent.length).toBe(sentBefore);
    },
  );

  it('group-syntax From as a new ticket: quarantined from_invalid, no issue, no thank-you', async () => {
    const { desk, forgeState, sentBefore } = await adasDesk();
    const before = forgeState();
    const trace = await desk.harness.ingest(
      readFileSync(new URL('../fixtures/mail/cli/group-from.eml', import.meta.url)),
    );
    expect(trace.outcome).toBe('quarantined');
    expect(trace.reason).toBe('from_invalid');
    expect(forgeState()).toBe(before);
    expect(desk.sent.length).toBe(sentBefore);
  });

  it('obsolete "From :" first line hiding a second From: rejected as duplicate_from, never Ada', async () => {
    // mailsplit took `From : mallory@...` for an mbox separator; mailauth reads it as a From.
    const { desk, forgeState } = await adasDesk();
    const before = forgeState();
    const trace = await desk.harness.ingest(fixture('obsolete-from-first-line.eml'));
    expect(trace.outcome).toBe('rejected');
    expect(trace.reason).toBe('duplicate_from');
    expect(forgeState()).toBe(before);
  });

  it("the control: Ada's genuine reply by In-Reply-To is a note from Ada", async () => {
    const { desk } = await adasDesk();
    const trace = await desk.harness.ingest(fixture('ada-reply.eml'));
    expect(trace.outcome).toBe('note');
    expect(desk.forge.notes('acme/game', 1)[0]?.body).toMatch(/^\*\*From:\*\* Ada Lovelace\n/);
  });

  it('reply-to-participant: a Reply-To never becomes a participant, the author, or the thank-you recipient', async () => {
    // Prepare
    const { desk, participants } = await adasDesk();
    const sentBefore = desk.sent.length;
    // Act: Ada's own new mail, Reply-To Mallory.
    const trace = await desk.harness.ingest(fixture('reply-to-elsewhere.eml'));
    // Assess
    expect(trace.outcome).toBe('issue');
    const issue = desk.forge.issues('acme/game')[1];
    expect(issue?.description).toMatch(/^\*\*From:\*\* Ada Lovelace\n/);
    expect(issue?.description).not.toContain('Mallory');
    expect(await participants(2)).toEqual([ADA]);
    const thanked = desk.sent.slice(sentBefore).map((mail) => mail.to);
    expect(thanked).toEqual([[ADA]]);
  });

  it('reply-to-participant: Mallory, named only as Reply-To, cannot reply as a participant afterwards', async () => {
    const { desk } = await adasDesk();
    await desk.harness.ingest(fixture('reply-to-elsewhere.eml'));
    const trace = await desk.harness.ingest(
      simpleMail({
        from: 'Mallory <mallory@evil.example>',
        subject: 'Re: The save file is lost after the update',
        headers: [['In-Reply-To', '<f6a7b8c9-d0e1-4f2a-9b3c-4d5e6f7a8b9c@customer.example>']],
      }),
    );
    expect(trace.outcome).toBe('quarantined');
    expect(trace.reason).toBe('reply_from_stranger');
  });

  it("participant-bound token: Bob writing to Ada's reply address is quarantined, not posted", async () => {
    // Prepare
    const { desk, forgeState } = await adasDesk();
    const before = forgeState();
    // Act
    const trace = await desk.harness.ingest(fixture('participant-other-token.eml'), {
      recipients: [replyAddressOf(ADA, 0)],
    });
    // Assess
    expect(trace.outcome).toBe('quarantined');
    expect(trace.reason).toBe('reply_token_participant_mismatch');
    expect(forgeState()).toBe(before);
  });

  it('participant-bound token: Bob with his own reply address posts as Bob', async () => {
    const { desk } = await adasDesk();
    const trace = await desk.harness.ingest(fixture('participant-other-token.eml'), {
      recipients: [replyAddressOf(BOB, 1)],
    });
    expect(trace.outcome).toBe('note');
    expect(desk.forge.notes('acme/game', 1)[0]?.body).toMatch(/^\*\*From:\*\* Bob Builder\n/);
  });

  it('display-name address spoof: the issue shows the real address, never the one in the name', async () => {
    const { desk } = await adasDesk();
    const trace = await desk.harness.ingest(fixture('display-name-spoof.eml'));
    expect(trace.outcome).toBe('issue');
    const description = desk.forge.issues('acme/game')[1]?.description ?? '';
    expect(description.split('\n')[0]).toBe('**From:** mallory@evil.example');
    expect(description).not.toContain('ceo@acme.example');
  });
});

describe('dmarc identity mismatch: the DMARC verdict must be about the From domain', () => {
  const verdicts = (dmarcDomain: string): ReceiptVerdicts => ({ ...passingVerdicts('ses'), dmarcDomain });

  it('a verdict source that evaluated another domain: quarantined dmarc_identity_mismatch, nothing posted', async () => {
    // Prepare
    const { desk, forgeState } = await adasDesk();
    const before = forgeState();
    // Act: a DMARC pass, but for evil.example, on a mail From Ada.
    const trace = await desk.harness.ingest(fixture('ada-reply.eml'), { verdicts: verdicts('evil.example') });
    // Assess
    expect(trace.outcome).toBe('quarantined');
    expect(trace.reason).toBe('dmarc_identity_mismatch');
    expect(trace.stages.find((stage) => stage.stage === 'policy')?.detail).toMatchObject({
      dmarcDomain: 'evil.example',
      fromDomain: 'customer.example',
    });
    expect(forgeState()).toBe(before);
  });

  it.each([['customer.example'], ['CUSTOMER.Example'], ['customer.example.']])(
    'the same domain written %s: a note',
    async (domain) => {
      const { desk } = await adasDesk();
      const trace = await desk.harness.ingest(fixture('ada-reply.eml'), { verdicts: verdicts(domain) });
      expect(trace.outcome).toBe('note');
    },
  );

  it('a subdomain is another domain: DMARC on mail.customer.example is not about customer.example', async () => {
    const { desk } = await adasDesk();
    const trace = await desk.harness.ingest(fixture('ada-reply.eml'), {
      verdicts: verdicts('mail.customer.example'),
    });
    expect(trace.reason).toBe('dmarc_identity_mismatch');
  });

  it('an internationalised domain matches its A-label (IDNA)', async () => {
    const harness = createHarness({ config: deskConfig() });
    const mail = simpleMail({ from: '山田 <yamada@例え.jp>' });
    expect((await harness.ingest(mail, { verdicts: verdicts('xn--r8jz45g.jp') })).outcome).toBe('issue');
    expect((await harness.ingest(mail, { verdicts: verdicts('xn--r8jz45g.com') })).reason).toBe(
      'dmarc_identity_mismatch',
    );
  });

  it('SES names no domain (verdicts without dmarcDomain): the identity rule alone decides', async () => {
    const { desk } = await adasDesk();
    const trace = await desk.harness.ingest(fixture('ada-reply.eml'), { verdicts: passingVerdicts('ses') });
    expect(trace.outcome).toBe('note');
  });
});
