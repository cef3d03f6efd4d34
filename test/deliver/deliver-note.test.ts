import { describe, expect, it } from 'vitest';
import { createMemoryObjectStore } from '../../adapters/local/memory-object-store.ts';
import type { NoteDraft, ThreadDecision } from '../../core/stages/contracts.ts';
import { type DeliverNoteInput, deliverNote, deliveryMarker } from '../../core/stages/deliver/index.ts';
import { createTicketStore } from '../../core/state/tickets.ts';
import { deskState } from '../support/desk-state.ts';
import { createMemoryForge } from '../support/memory-forge.ts';
import {
  attachment,
  box,
  contextOn,
  fakeClock,
  isDeskAddress,
  mail,
  type OnStore,
  settle,
  target,
} from './support.ts';

type Input = DeliverNoteInput & OnStore;
const deliver = (input: Input) => deliverNote(input, contextOn(input));

type Reply = Extract<ThreadDecision, { kind: 'reply' }>;

const WAVE =
  ':wave: This issue has been reopened because it received a new comment from an external participant.';

const decision = (overrides: Partial<Reply> = {}): Reply => ({
  kind: 'reply',
  issueIid: 42,
  via: 'reply_token',
  participant: 'alice@example.com',
  internal: false,
  reopen: false,
  ...overrides,
});

const noteDraft = (overrides: Partial<NoteDraft> = {}): NoteDraft => ({
  body: 'Still broken after the update.',
  internal: false,
  uploads: [],
  ...overrides,
});

/** acme/game#42 exists in the forge and has a ticket record with alice as its only participant. */
const setup = async (
  overrides: Partial<Input> = {},
  issue: { state?: 'opened' | 'closed'; assignees?: string[] } = {},
) => {
  const forge = createMemoryForge();
  forge.seedIssue('acme/game', { iid: 42, state: issue.state ?? 'opened', assignees: issue.assignees ?? [] });
  const store = createMemoryObjectStore();
  const time = fakeClock();
  await createTicketStore(store, { clock: time.clock }).recordInbound({
    projectPath: 'acme/game',
    iid: 42,
    mailId: 'ses-0000',
    messageId: 'first@mail.example.com',
    sender: box('alice@example.com', 'Alice'),
    cc: [],
    participantsFromCc: true,
    isDeskAddress,
  });
  const input: Input = {
    mailId: 'ses-0002',
    mail: mail({ messageId: 'reply@mail.example.com', inReplyTo: ['first@mail.example.com'] }),
    target: target(),
    decision: decision(),
    draft: noteDraft(),
    forge,
    store,
    clock: time.clock,
    isDeskAddress,
    ...overrides,
  };
  return { forge, store, time, input };
};

const MARKER = deliveryMarker('ses-0002', 'acme/game');

describe('deliverNote', () => {
  it('adds the note with the hidden marker and records the reply on the ticket', async () => {
    // Prepare
    const { forge, store, input } = await setup({
      mail: mail({ messageId: 'reply@mail.example.com', cc: [box('Dan@Example.com', 'Dan')] }),
      target: target({ participants_from_cc: true }),
    });
    // Act
    const record = await deliver(input);
    // Assess
    expect(forge.callsOf('addNote').map((call) => call.args)).toEqual([
      [42, { body: `Still broken after the update.\n\n<!-- postdesk:${MARKER} -->`, internal: false }],
    ]);
    expect(record).toMatchObject({
      project: 'acme/game',
      outcome: 'note',
      reason: 'note_added',
      note: { issueIid: 42, id: 5000, internal: false, reopened: false },
    });
    const ticket = await deskState(store).tickets.get('acme/game', 42);
    expect(ticket?.inboundMessageIds).toEqual(['first@mail.example.com', 'reply@mail.example.com']);
    expect(ticket?.participants.map((participant) => participant.address)).toEqual([
      'alice@example.com',
      'dan@example.com',
    ]);
    expect(await deskState(store).tickets.lookupMessageId('reply@mail.example.com')).toEqual([
      { projectPath: 'acme/game', iid: 42 },
    ]);
    expect(await deskState(store).ledger.get('ses-0002', 'game')).toMatchObject({
      kind: 'note',
      state: 'done',
      result: { kind: 'note', issueIid: 42, noteId: 5000, reopened: false },
    });
  });

  it('reopens a closed issue and tells the assignees in an internal note, as GitLab does', async () => {
    const { forge, input } = await setup(
      { decision: decision({ reopen: true }) },
      { state: 'closed', assignees: ['dev1', 'dev2'] },
    );
    const record = await deliver(input);
    expect(forge.calls.map((call) => call.method)).toEqual(['addNote', 'getIssue', 'reopenIssue', 'addNote']);
    expect(forge.issues('acme/game')[0]?.state).toBe('opened');
    expect(forge.notes('acme/game', 42)[1]).toMatchObject({ body: `@dev1 @dev2 ${WAVE}`, internal: true });
    expect(record.note?.reopened).toBe(true);
    expect(record.message).toContain('reopened');
  });

  it('leaves an open issue alone, and a closed one when the decision says not to reopen', async () => {
    const open = await setup({ decision: decision({ reopen: true }) });
    expect((await deliver(open.input)).note?.reopened).toBe(false);
    expect(open.forge.callsOf('reopenIssue')).toHaveLength(0);

    const closed = await setup({}, { state: 'closed' });
    await deliver(closed.input);
    expect(closed.forge.callsOf('getIssue')).toHaveLength(0);
    expect(closed.forge.issues('acme/game')[0]?.state).toBe('closed');
  });

  it('posts a stranger’s or an automated reply as an internal note that adds nobody and reopens nothing', async () => {
    const { forge, store, input } = await setup(
      {
        mail: mail({ from: [box('mallory@example.com')], cc: [box('eve@example.com')] }),
        decision: decision({ participant: 'mallory@example.com', internal: true, reopen: false }),
        target: target({ participants_from_cc: true }),
      },
      { state: 'closed' },
    );
    const record = await deliver(input);
    expect(forge.callsOf('addNote')[0]?.args[1]).toMatchObject({ internal: true });
    expect(forge.callsOf('reopenIssue')).toHaveLength(0);
    expect(record.note).toMatchObject({ internal: true, reopened: false });
    const ticket = await deskState(store).tickets.get('acme/game', 42);
    expect(ticket?.participants.map((participant) => participant.address)).toEqual(['alice@example.com']);
  });

  it('adds one note for a mail delivered twice', async () => {
    const { forge, input } = await setup();
    await deliver(input);
    const second = await deliver(input);
    expect(forge.notes('acme/game', 42)).toHaveLength(1);
    expect(second).toMatchObject({
      outcome: 'note',
      reason: 'duplicate_delivery',
      note: { issueIid: 42, id: 5000 },
    });
  });

  it('after a crash between addNote and the ledger, recovers the note by marker and still reopens', async () => {
    // Prepare
    const { forge, time, input } = await setup(
      { decision: decision({ reopen: true }) },
      { state: 'closed', assignees: ['dev1'] },
    );
    forge.inject({ method: 'addNote', when: 'after', mode: 'crash' });
    void deliver(input);
    await settle();
    // Act
    await expect(deliver(input)).rejects.toMatchObject({ code: 'delivery_in_progress' });
    time.advance(5 * 60_000);
    const record = await deliver(input);
    // Assess
    expect(forge.callsOf('findNoteByMarker').map((call) => call.args)).toEqual([[42, MARKER]]);
    expect(record).toMatchObject({ reason: 'recovered_by_marker', note: { id: 5000, reopened: true } });
    const notes = forge.notes('acme/game', 42);
    expect(notes.map((note) => note.body)).toEqual([expect.stringContaining(MARKER), `@dev1 ${WAVE}`]);
  });

  it('uploads the reply’s attachments and links them', async () => {
    const file = attachment(0, Buffer.from('crash dump'), 'application/octet-stream', 'crash.dmp');
    const { forge, input } = await setup({
      draft: noteDraft({
        body: 'Dump attached.\n\n* [crash.dmp](postdesk-upload://0)',
        uploads: [file.plan],
      }),
    });
    await deliver(input);
    expect(forge.uploads[0]?.content.toString()).toBe('crash dump');
    expect(forge.notes('acme/game', 42)[0]?.body).toContain(
      '* [crash.dmp](/uploads/00000000000000000000000000000001/crash.dmp)',
    );
  });
});
