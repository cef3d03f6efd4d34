import { describe, expect, it } from 'vitest';
import { createMemoryObjectStore } from '../../adapters/local/memory-object-store.ts';
import { TransientError } from '../../core/errors.ts';
import type { Mailbox } from '../../core/model.ts';
import type { ObjectStore } from '../../core/ports.ts';
import {
  createTicketStore,
  MAX_PARTICIPANTS,
  mergeParticipants,
  type RecordInboundInput,
} from '../../core/state/tickets.ts';

const clock = { now: () => new Date('2025-02-01T10:00:00Z') };
const isDeskAddress = (address: string): boolean => address.endsWith('@desk.example.com');
const box = (address: string, name = ''): Mailbox => ({ name, address });

const inbound = (overrides: Partial<RecordInboundInput> = {}): RecordInboundInput => ({
  projectPath: 'acme/game',
  iid: 42,
  mailId: 'ses-1',
  messageId: 'first@mail.example.com',
  sender: box('Alice@Example.com', 'Alice'),
  cc: [],
  participantsFromCc: true,
  isDeskAddress,
  ...overrides,
});

/** A store whose first `failures` putIfMatch calls lose the race, as if another writer got there first. */
const contended = (store: ObjectStore, failures: number): ObjectStore & { conflicts: number } => {
  const wrapper = {
    ...store,
    conflicts: 0,
    list: (prefix: string) => store.list(prefix),
    async putIfMatch(key: string, body: string, etag: string) {
      if (wrapper.conflicts < failures) {
        wrapper.conflicts += 1;
        return 'conflict' as const;
      }
      return store.putIfMatch(key, body, etag);
    },
  };
  return wrapper;
};

describe('ticket records', () => {
  it('creates the record at tickets/<project path>/<iid>.json with the sender first and indexes the Message-ID', async () => {
    // Prepare
    const store = createMemoryObjectStore();
    const tickets = createTicketStore(store, { clock });
    // Act
    const change = await tickets.recordInbound(inbound({ cc: [box('bob@example.com', 'Bob')] }));
    // Assess
    expect(tickets.key('acme/game', 42)).toBe('tickets/acme/game/42.json');
    expect(change.record).toMatchObject({
      projectPath: 'acme/game',
      iid: 42,
      createdFromMail: 'ses-1',
      inboundMessageIds: ['first@mail.example.com'],
      outboundMessageIds: [],
    });
    expect(change.record.participants).toEqual([
      { address: 'alice@example.com', name: 'Alice', source: 'from', addedAt: '2025-02-01T10:00:00.000Z' },
      { address: 'bob@example.com', name: 'Bob', source: 'cc', addedAt: '2025-02-01T10:00:00.000Z' },
    ]);
    expect(await tickets.lookupMessageId('<first@mail.example.com>')).toEqual([
      { projectPath: 'acme/game', iid: 42 },
    ]);
    expect(Object.keys(store.snapshot()).filter((key) => key.startsWith('msgid/'))).toHaveLength(1);
  });

  it('adds no Cc participants when the project does not ask for them', async () => {
    const tickets = createTicketStore(createMemoryObjectStore(), { clock });
    const change = await tickets.recordInbound(
      inbound({ cc: [box('bob@example.com')], participantsFromCc: false }),
    );
    expect(change.record.participants.map((participant) => participant.address)).toEqual([
      'alice@example.com',
    ]);
  });

  it('excludes desk addresses and deduplicates case-insensitively', async () => {
    const tickets = createTicketStore(createMemoryObjectStore(), { clock });
    const change = await tickets.recordInbound(
      inbound({
        cc: [
          box('support+game@desk.example.com'),
          box('ALICE@example.com'),
          box('bob@example.com'),
          box('Bob@Example.COM'),
          box('undisclosed-recipients:;'),
        ],
      }),
    );
    expect(change.record.participants.map((participant) => participant.address)).toEqual([
      'alice@example.com',
      'bob@example.com',
    ]);
  });

  it(`caps participants at ${MAX_PARTICIPANTS} and returns the Cc addresses left out`, async () => {
    const tickets = createTicketStore(createMemoryObjectStore(), { clock });
    const cc = Array.from({ length: 12 }, (_, index) => box(`cc${index}@example.com`));
    const change = await tickets.recordInbound(inbound({ cc }));
    expect(change.record.participants).toHaveLength(MAX_PARTICIPANTS);
    expect(change.aboveLimit).toEqual(['cc9@example.com', 'cc10@example.com', 'cc11@example.com']);

    const later = await tickets.recordInbound(
      inbound({
        messageId: 'second@mail.example.com',
        sender: box('alice@example.com'),
        cc: [box('late@example.com')],
      }),
    );
    expect(later.added).toEqual([]);
    expect(later.aboveLimit).toEqual(['late@example.com']);
  });

  it('always adds the sender, even on a full ticket, as GitLab adds from_address outside the capped service', () => {
    const now = new Date();
    const full = mergeParticipants(
      [],
      Array.from({ length: 10 }, (_, index) => ({ address: `p${index}@example.com`, source: 'cc' as const })),
      { isDeskAddress, now },
    ).participants;
    const merged = mergeParticipants(full, [{ address: 'new@example.com', source: 'from' }], {
      isDeskAddress,
      now,
    });
    expect(merged.participants).toHaveLength(11);
    expect(merged.aboveLimit).toEqual([]);
  });

  it('is idempotent: recording the same mail twice adds nothing', async () => {
    const store = createMemoryObjectStore();
    const tickets = createTicketStore(store, { clock });
    await tickets.recordInbound(inbound({ cc: [box('bob@example.com')] }));
    const before = store.snapshot();
    const again = await tickets.recordInbound(inbound({ cc: [box('bob@example.com')] }));
    expect(again.added).toEqual([]);
    expect(store.snapshot()).toEqual(before);
  });

  it('remembers whom each mail added: a retry reports the same participants, another mail only its own', async () => {
    // Prepare
    const tickets = createTicketStore(createMemoryObjectStore(), { clock });
    const first = await tickets.recordInbound(inbound({ cc: [box('bob@example.com')] }));
    // Act
    const retry = await tickets.recordInbound(inbound({ cc: [box('bob@example.com')] }));
    const reply = await tickets.recordInbound(
      inbound({ mailId: 'ses-2', messageId: 'second@mail.example.com', cc: [box('carol@example.com')] }),
    );
    // Assess
    const addresses = (change: { addedByMail: { address: string }[] }) =>
      change.addedByMail.map((participant) => participant.address);
    expect(addresses(first)).toEqual(['alice@example.com', 'bob@example.com']);
    expect(retry.added).toEqual([]);
    expect(addresses(retry)).toEqual(['alice@example.com', 'bob@example.com']);
    expect(addresses(reply)).toEqual(['carol@example.com']);
  });

  it('retries a lost compare-and-swap and keeps both writers’ changes', async () => {
    // Prepare
    const base = createMemoryObjectStore();
    const tickets = createTicketStore(base, { clock });
    await tickets.recordInbound(inbound());
    const store = contended(base, 3);
    // Act
    const change = await createTicketStore(store, { clock }).recordInbound(
      inbound({ messageId: 'reply@mail.example.com', sender: box('carol@example.com') }),
    );
    // Assess
    expect(store.conflicts).toBe(3);
    expect(change.record.inboundMessageIds).toEqual(['first@mail.example.com', 'reply@mail.example.com']);
    expect(change.record.participants.map((participant) => participant.address)).toEqual([
      'alice@example.com',
      'carol@example.com',
    ]);
  });

  it('serialises concurrent replies on one ticket without losing any', async () => {
    const store = createMemoryObjectStore();
    const tickets = createTicketStore(store, { clock, attempts: 30 });
    await tickets.recordInbound(inbound());
    await Promise.all(
      Array.from({ length: 8 }, (_, index) =>
        tickets.recordInbound(inbound({ messageId: `r${index}@x`, sender: box(`p${index}@example.com`) })),
      ),
    );
    const record = await tickets.get('acme/game', 42);
    expect(record?.inboundMessageIds).toHaveLength(9);
    expect(record?.participants).toHaveLength(9);
  });

  it('gives up with a TransientError ticket_conflict when every attempt loses', async () => {
    const base = createMemoryObjectStore();
    await createTicketStore(base, { clock }).recordInbound(inbound());
    const tickets = createTicketStore(contended(base, 1000), { clock, attempts: 3 });
    const error = await tickets
      .recordInbound(inbound({ messageId: 'x@y' }))
      .catch((caught: unknown) => caught);
    expect(error).toBeInstanceOf(TransientError);
    expect(error).toMatchObject({ code: 'ticket_conflict' });
  });

  it('indexes one ticket per project for a Message-ID sent to two desks', async () => {
    const tickets = createTicketStore(createMemoryObjectStore(), { clock });
    await tickets.recordInbound(inbound());
    await tickets.recordInbound(inbound({ projectPath: 'acme/web', iid: 3 }));
    await tickets.recordInbound(inbound({ iid: 99 }));
    expect(await tickets.lookupMessageId('first@mail.example.com')).toEqual([
      { projectPath: 'acme/game', iid: 42 },
      { projectPath: 'acme/web', iid: 3 },
    ]);
  });

  it('records outbound message ids (the ones SES assigned) and indexes them', async () => {
    const tickets = createTicketStore(createMemoryObjectStore(), { clock });
    await tickets.recordInbound(inbound());
    const record = await tickets.recordOutbound('acme/game', 42, '<0100018c-ses@email.amazonses.com>');
    expect(record.outboundMessageIds).toEqual(['0100018c-ses@email.amazonses.com']);
    expect(await tickets.lookupMessageId('0100018c-ses@email.amazonses.com')).toEqual([
      { projectPath: 'acme/game', iid: 42 },
    ]);
  });

  it('marks a participant undeliverable after a bounce', async () => {
    const tickets = createTicketStore(createMemoryObjectStore(), { clock });
    await tickets.recordInbound(inbound());
    const record = await tickets.markUndeliverable('acme/game', 42, 'ALICE@example.com', 'bounce: 550 5.1.1');
    expect(record?.participants[0]?.undeliverable).toEqual({
      at: '2025-02-01T10:00:00.000Z',
      reason: 'bounce: 550 5.1.1',
    });
    expect(await tickets.markUndeliverable('acme/game', 1, 'a@b.c', 'x')).toBeUndefined();
  });
});
