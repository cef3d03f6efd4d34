import { describe, expect, it } from 'vitest';
import { createMemoryObjectStore } from '../../adapters/local/memory-object-store.ts';
import { ProjectSchema } from '../../core/config/schema.ts';
import type { Mailbox, ParsedMail } from '../../core/model.ts';
import { systemClock } from '../../core/ports.ts';
import type { Classification, RouteTarget, ThreadDecision } from '../../core/stages/contracts.ts';
import { type ThreadInput, threadMail } from '../../core/stages/thread/index.ts';
import { createTicketStore, type TicketStore } from '../../core/state/tickets.ts';
import { createReplyToken } from '../../core/threading/reply-token.ts';
import type { StageResult } from '../../core/trace.ts';
import { fromHeaders } from '../support/mail-factory.ts';

const REPLY_KEY = 'k'.repeat(40);
const isDeskAddress = (address: string): boolean => address.endsWith('@desk.example.com');
const box = (address: string, name = ''): Mailbox => ({ name, address });

const game = ProjectSchema.parse({ path: 'acme/game', key: 'game' });
const web = ProjectSchema.parse({ path: 'acme/web', key: 'web' });

const mail = (overrides: Partial<ParsedMail> = {}): ParsedMail => ({
  headers: fromHeaders(overrides.from ?? [box('alice@example.com', 'Alice')]),
  from: [box('alice@example.com', 'Alice')],
  replyTo: [],
  sender: undefined,
  to: [box('support+game@desk.example.com')],
  cc: [],
  subject: 'Re: crash on start',
  messageId: 'reply-1@mail.example.com',
  inReplyTo: [],
  references: [],
  date: undefined,
  contentType: 'text/plain',
  contentTypeParams: {},
  text: 'still broken',
  html: undefined,
  attachments: [],
  size: 200,
  warnings: [],
  ...overrides,
});

const human: Classification = { kind: 'human', reason: 'human', signals: [] };
const outOfOffice: Classification = {
  kind: 'out_of_office',
  reason: 'auto_submitted',
  signals: ['auto_submitted: Auto-Submitted=auto-replied'],
};

const byAddress = (project = game): RouteTarget => ({
  project,
  address: `support+${project.key}@desk.example.com`,
  via: 'project_key',
});

const tokenFor = (
  participant: string,
  fields: { iid?: number; index?: number; project?: typeof game; key?: string } = {},
) =>
  createReplyToken(fields.key ?? REPLY_KEY, {
    projectKey: (fields.project ?? game).key,
    projectPath: (fields.project ?? game).path,
    issueIid: fields.iid ?? 42,
    participantIndex: fields.index ?? 0,
    participant,
  });

const byToken = (token: string, project = game): RouteTarget => ({
  project,
  address: `support+${token}@desk.example.com`,
  via: 'reply_token',
  replyToken: token,
});

/** Tickets: acme/game#42 (alice, bob) from first@mail, acme/game#43 (carol), acme/web#42 (alice) from web@mail. */
const seeded = async (): Promise<TicketStore> => {
  const tickets = createTicketStore(createMemoryObjectStore(), { clock: systemClock });
  const record = (projectPath: string, iid: number, messageId: string, sender: Mailbox, cc: Mailbox[] = []) =>
    tickets.recordInbound({
      projectPath,
      iid,
      mailId: `ses-${projectPath}-${iid}`,
      messageId,
      sender,
      cc,
      participantsFromCc: true,
      isDeskAddress,
    });
  await record('acme/game', 42, 'first@mail.example.com', box('alice@example.com'), [box('bob@example.com')]);
  await record('acme/game', 43, 'other@mail.example.com', box('carol@example.com'));
  await record('acme/web', 42, 'web@mail.example.com', box('alice@example.com'));
  await tickets.recordOutbound('acme/game', 42, 'ses-out-1@email.amazonses.com');
  return tickets;
};

const run = async (
  overrides: Partial<ThreadInput> & { tickets: TicketStore },
): Promise<StageResult<ThreadDecision>> =>
  threadMail({
    mail: mail(),
    target: byAddress(),
    classification: human,
    replyKey: REPLY_KEY,
    deskAddress: isDeskAddress,
    ...overrides,
  });

describe('thread: reply tokens', () => {
  it('makes a reply from a participant who uses their own token', async () => {
    // Prepare
    const tickets = await seeded();
    // Act
    const result = await run({ tickets, target: byToken(tokenFor('alice@example.com')) });
    // Assess
    expect(result).toMatchObject({
      ok: true,
      verdict: 'reply',
      reason: 'reply_token',
      value: {
        kind: 'reply',
        issueIid: 42,
        via: 'reply_token',
        participant: 'alice@example.com',
        internal: false,
        reopen: false,
      },
    });
  });

  it('attributes the reply to the From address, and reopens when the project says so', async () => {
    // Prepare
    const tickets = await seeded();
    const project = ProjectSchema.parse({ path: 'acme/game', key: 'game', reopen_on_reply: true });
    // Act
    const result = await run({
      tickets,
      mail: mail({ from: [box('Bob@Example.com')], replyTo: [box('alice@work.example.com')] }),
      target: byToken(tokenFor('bob@example.com', { index: 1 }), project),
    });
    // Assess
    expect(result).toMatchObject({
      ok: true,
      value: { participant: 'bob@example.com', reopen: true, internal: false },
    });
  });

  it("participant-bound token: another participant with Alice's token is quarantined, not posted", async () => {
    // Prepare: bob@example.com is a participant of #42 too (from Cc), but the token is Alice's (slot 0).
    const tickets = await seeded();
    // Act
    const result = await run({
      tickets,
      mail: mail({ from: [box('bob@example.com', 'Bob')] }),
      target: byToken(tokenFor('alice@example.com')),
    });
    // Assess
    expect(result).toMatchObject({
      ok: false,
      outcome: 'quarantined',
      reason: 'reply_token_participant_mismatch',
      detail: { issueIid: 42 },
    });
  });

  it('participant-bound token: an automated mail from another participant is held the same way', async () => {
    const tickets = await seeded();
    const result = await run({
      tickets,
      mail: mail({ from: [box('bob@example.com')] }),
      classification: outOfOffice,
      target: byToken(tokenFor('alice@example.com')),
    });
    expect(result).toMatchObject({ ok: false, reason: 'reply_token_participant_mismatch' });
  });

  it('a Sender or Reply-To naming a participant never stands in for a From that names nobody', async () => {
    // Prepare: a From that is an empty group; Sender and Reply-To name Alice, the token's participant.
    const tickets = await seeded();
    // Act
    const result = await run({
      tickets,
      mail: mail({
        headers: new Map([['from', ['undisclosed-recipients:;']]]),
        from: [],
        sender: box('alice@example.com'),
        replyTo: [box('alice@example.com')],
      }),
      target: byToken(tokenFor('alice@example.com')),
    });
    // Assess: nobody is named, so nobody is a participant (the policy stage quarantines this first).
    expect(result).toMatchObject({ ok: false, reason: 'reply_from_stranger' });
  });

  it('reply-to-forgery: a stranger who sets Reply-To to a participant is still a stranger', async () => {
    // Prepare: bob@example.com is a participant; mallory forges Reply-To with his address.
    const tickets = await seeded();
    // Act
    const result = await run({
      tickets,
      mail: mail({ from: [box('mallory@evil.example')], replyTo: [box('bob@example.com')] }),
      target: byToken(tokenFor('alice@example.com')),
    });
    // Assess
    expect(result).toMatchObject({ ok: false, outcome: 'quarantined', reason: 'reply_from_stranger' });
  });

  it.each([
    ['quarantine', { ok: false, outcome: 'quarantined', reason: 'reply_from_stranger' }],
    ['drop', { ok: false, outcome: 'dropped', reason: 'reply_from_stranger' }],
    [
      'internal_note',
      {
        ok: true,
        verdict: 'internal_note',
        reason: 'reply_from_stranger',
        value: {
          kind: 'reply',
          issueIid: 42,
          participant: 'mallory@example.com',
          internal: true,
          reopen: false,
        },
      },
    ],
  ] as const)(
    'follows strangers: %s for a valid token used by a non-participant',
    async (strangers, expected) => {
      const tickets = await seeded();
      const project = ProjectSchema.parse({
        path: 'acme/game',
        key: 'game',
        strangers,
        reopen_on_reply: true,
      });
      const result = await run({
        tickets,
        mail: mail({ from: [box('mallory@example.com')] }),
        target: byToken(tokenFor('alice@example.com'), project),
      });
      expect(result).toMatchObject(expected);
      if (!result.ok) expect(result.message).not.toContain('mallory');
    },
  );

  it('quarantines a token with a forged MAC as reply_token_invalid', async () => {
    const tickets = await seeded();
    const forged = tokenFor('alice@example.com', { key: 'not-the-desk-key-at-all-000000000000' });
    const result = await run({ tickets, target: byToken(forged) });
    expect(result).toMatchObject({ ok: false, outcome: 'quarantined', reason: 'reply_token_invalid' });
  });

  it('quarantines a valid token replayed onto another issue', async () => {
    // Prepare: alice's genuine token for #42, with the iid changed to #43 (where she is no participant at index 0)
    const tickets = await seeded();
    const genuine = tokenFor('alice@example.com', { iid: 42 });
    const replayed = genuine.replace(/^r-game-42-/, 'r-game-43-');
    // Act
    const result = await run({ tickets, target: byToken(replayed) });
    // Assess
    expect(replayed).not.toBe(genuine);
    expect(result).toMatchObject({
      ok: false,
      outcome: 'quarantined',
      reason: 'reply_token_invalid',
      detail: { issueIid: 43 },
    });
  });

  it('quarantines a token moved to another participant position or another project', async () => {
    const tickets = await seeded();
    const atIndexOne = tokenFor('alice@example.com').replace(/^r-game-42-0-/, 'r-game-42-1-');
    expect(await run({ tickets, target: byToken(atIndexOne) })).toMatchObject({
      reason: 'reply_token_invalid',
    });
    const webToken = tokenFor('alice@example.com', { project: web });
    expect(await run({ tickets, target: byToken(webToken, game) })).toMatchObject({
      reason: 'reply_token_invalid',
    });
  });

  it('quarantines a token for an unknown issue or participant', async () => {
    const tickets = await seeded();
    expect(
      await run({ tickets, target: byToken(tokenFor('alice@example.com', { iid: 999 })) }),
    ).toMatchObject({
      outcome: 'quarantined',
      reason: 'reply_token_invalid',
    });
    expect(await run({ tickets, target: byToken(tokenFor('zed@example.com', { index: 7 })) })).toMatchObject({
      reason: 'reply_token_invalid',
    });
    expect(await run({ tickets, target: byToken('r-game-42-0-tooshort') })).toMatchObject({
      reason: 'reply_token_invalid',
    });
  });

  it('quarantines as reply_key_missing when the secret has no reply_key, and says how to fix it', async () => {
    const tickets = await seeded();
    const result = await run({
      tickets,
      replyKey: undefined,
      target: byToken(tokenFor('alice@example.com')),
    });
    expect(result).toMatchObject({ ok: false, outcome: 'quarantined', reason: 'reply_key_missing' });
    if (!result.ok) expect(result.message).toContain('postdesk secret write');
  });
});

describe('thread: In-Reply-To and References', () => {
  it('finds the ticket by In-Reply-To, any of its values', async () => {
    const tickets = await seeded();
    const result = await run({ tickets, mail: mail({ inReplyTo: ['unknown@x', 'first@mail.example.com'] }) });
    expect(result).toMatchObject({
      ok: true,
      reason: 'in_reply_to',
      value: { kind: 'reply', issueIid: 42, via: 'in_reply_to', participant: 'alice@example.com' },
    });
  });

  it('finds the ticket by an outbound (SES-assigned) id in References, split on commas', async () => {
    const tickets = await seeded();
    const result = await run({
      tickets,
      mail: mail({ references: ['<unknown@x>,<ses-out-1@email.amazonses.com>'] }),
    });
    expect(result).toMatchObject({
      ok: true,
      reason: 'references',
      value: { issueIid: 42, via: 'references' },
    });
  });

  it('prefers In-Reply-To over References', async () => {
    const tickets = await seeded();
    const result = await run({
      tickets,
      mail: mail({
        from: [box('carol@example.com')],
        inReplyTo: ['other@mail.example.com'],
        references: ['first@mail.example.com'],
      }),
    });
    expect(result).toMatchObject({ ok: true, value: { issueIid: 43, via: 'in_reply_to' } });
  });

  it('ignores a hit on another project’s ticket and makes a new ticket', async () => {
    const tickets = await seeded();
    const result = await run({ tickets, mail: mail({ inReplyTo: ['web@mail.example.com'] }) });
    expect(result).toMatchObject({
      ok: true,
      verdict: 'new_ticket',
      value: { kind: 'new_ticket' },
      detail: { ignoredOtherProjectHits: 1 },
    });
  });

  it('applies the strangers policy to a header match from a non-participant', async () => {
    const tickets = await seeded();
    const result = await run({
      tickets,
      mail: mail({ from: [box('mallory@example.com')], inReplyTo: ['first@mail.example.com'] }),
    });
    expect(result).toMatchObject({ ok: false, outcome: 'quarantined', reason: 'reply_from_stranger' });
  });

  it('never threads by subject', async () => {
    const tickets = await seeded();
    const result = await run({ tickets, mail: mail({ subject: 'Re: issue 42 [#42] crash on start' }) });
    expect(result).toMatchObject({ ok: true, value: { kind: 'new_ticket' } });
  });
});

describe('thread: automated mail', () => {
  it('posts an automated mail on a ticket as an internal note and never reopens', async () => {
    const tickets = await seeded();
    const project = ProjectSchema.parse({ path: 'acme/game', key: 'game', reopen_on_reply: true });
    const result = await run({
      tickets,
      classification: outOfOffice,
      target: byToken(tokenFor('alice@example.com'), project),
    });
    expect(result).toMatchObject({
      ok: true,
      verdict: 'internal_note',
      reason: 'automated_on_ticket',
      value: { kind: 'reply', issueIid: 42, internal: true, reopen: false },
    });
  });

  it('drops an automated mail with no ticket, with the classifier’s reason', async () => {
    const tickets = await seeded();
    const result = await run({ tickets, classification: outOfOffice });
    expect(result).toMatchObject({ ok: false, outcome: 'dropped', reason: 'auto_submitted' });
  });

  it('lets bulk mail open a ticket only when the project accepts bulk', async () => {
    const tickets = await seeded();
    const bulk: Classification = { kind: 'bulk', reason: 'precedence_bulk', signals: [] };
    expect(await run({ tickets, classification: bulk })).toMatchObject({
      ok: false,
      outcome: 'dropped',
      reason: 'precedence_bulk',
    });
    const accepting = ProjectSchema.parse({ path: 'acme/game', key: 'game', accept_bulk: true });
    expect(await run({ tickets, classification: bulk, target: byAddress(accepting) })).toMatchObject({
      ok: true,
      value: { kind: 'new_ticket' },
    });
  });

  it('makes a new ticket from a human mail with no reply markers', async () => {
    const tickets = await seeded();
    expect(await run({ tickets })).toMatchObject({ ok: true, verdict: 'new_ticket', reason: 'new_ticket' });
  });
});
