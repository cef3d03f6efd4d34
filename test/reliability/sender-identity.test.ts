import { describe, expect, it } from 'vitest';
import { senderIdentity } from '../../core/stages/authenticate/sender-identity.ts';
import { createMemoryForge } from '../support/memory-forge.ts';
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
