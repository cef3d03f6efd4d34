import * as z from 'zod';
import { isAddrSpec } from '../address.ts';
import { PermanentError } from '../errors.ts';
import type { Mailbox } from '../model.ts';
import type { Clock, ObjectStore } from '../ports.ts';
import { readJson, sha256Hex, updateJson } from './json.ts';

/**
 * Ticket records and the message-id index.
 *
 * `tickets/<project path>/<iid>.json` holds what the forge does not: the external
 * participants (who may reply, who gets notified) and the message ids of every mail in and out. It
 * is updated by read-modify-write with `If-Match`, retried on a lost race.
 *
 * `msgid/<sha256 of message id>.json` maps a message id to its tickets, so a reply's In-Reply-To or
 * References finds its issue (GitLab's `Issue::Email`, Zammad's `message_id_md5`). It is written
 * for inbound ids and for outbound ones, which must be the ids SES assigned (SES rewrites ours).
 * The key is a hash because message ids are arbitrary text; the entry lists one ticket per project
 * because one mail sent to two desks makes two issues with the same Message-ID.
 *
 * Participant positions are stable (entries are never removed or reordered): a reply token names
 * its participant by position (core/threading/reply-token.ts).
 */

/** GitLab's `IssueEmailParticipants::CreateService::MAX_NUMBER_OF_RECORDS`: Cc participants stop here. */
export const MAX_PARTICIPANTS = 10;
/** Message ids kept per direction on a record (newest kept); the index remembers them all. */
export const MAX_MESSAGE_IDS = 500;
/** Inbound mails whose added participants a record remembers (newest kept): enough for any retry. */
export const MAX_MAIL_ADDITIONS = 50;
/** Tickets remembered per message id (one per project). */
const MAX_INDEX_TICKETS = 20;

export const ParticipantSource = ['from', 'cc', 'manual'] as const;
export type ParticipantSource = (typeof ParticipantSource)[number];

export const ParticipantSchema = z.object({
  /** Lowercased, trimmed. */
  address: z.string(),
  name: z.string(),
  source: z.enum(ParticipantSource),
  addedAt: z.string(),
  /** Set from SES bounce/complaint events: no more mail is sent to this address. */
  undeliverable: z.object({ at: z.string(), reason: z.string() }).optional(),
});
export type Participant = z.output<typeof ParticipantSchema>;

export const TicketRecordSchema = z.object({
  version: z.literal(1),
  projectPath: z.string(),
  iid: z.number().int().positive(),
  createdAt: z.string(),
  updatedAt: z.string(),
  /** The mail (pipeline id) whose delivery created the issue; absent when a reply created the record. */
  createdFromMail: z.string().optional(),
  participants: z.array(ParticipantSchema),
  inboundMessageIds: z.array(z.string()),
  outboundMessageIds: z.array(z.string()),
  /**
   * Who each inbound mail added, by pipeline mail id (the last MAX_MAIL_ADDITIONS mails that added
   * anyone), written with the participants themselves: a retry of a delivery, or a duplicate,
   * reports the participants its first attempt added. Absent on records written before it existed.
   */
  addedByMail: z.array(z.object({ mailId: z.string(), addresses: z.array(z.string()) })).optional(),
});
export type TicketRecord = z.output<typeof TicketRecordSchema>;

export interface TicketRef {
  projectPath: string;
  iid: number;
}

const MessageIdIndexSchema = z.object({
  version: z.literal(1),
  tickets: z.array(
    z.object({
      projectPath: z.string(),
      iid: z.number().int().positive(),
      direction: z.enum(['inbound', 'outbound']),
      at: z.string(),
    }),
  ),
});

export interface ParticipantCandidate {
  address: string;
  name?: string | undefined;
  source: ParticipantSource;
}

export interface ParticipantMerge {
  participants: Participant[];
  /** The participants this merge added, in order. */
  added: Participant[];
  /** Lowercased addresses left out because the ticket already had MAX_PARTICIPANTS (GitLab drops them silently; we report them). */
  aboveLimit: string[];
}

/** The form participants are stored and compared in. */
export const normalizeAddress = (address: string): string => address.trim().toLowerCase();

/**
 * Adds candidates to a participant list: addresses lowercased, duplicates (case-insensitive) and desk
 * addresses skipped, and `cc`/`manual` candidates only while the ticket has fewer than `max`. The
 * sender (`from`) is always added, as GitLab adds `from_address` outside the capped service.
 */
export const mergeParticipants = (
  existing: readonly Participant[],
  candidates: readonly ParticipantCandidate[],
  options: { isDeskAddress: (address: string) => boolean; now: Date; max?: number },
): ParticipantMerge => {
  const max = options.max ?? MAX_PARTICIPANTS;
  const participants = [...existing];
  const known = new Set(existing.map((participant) => normalizeAddress(participant.address)));
  const added: Participant[] = [];
  const aboveLimit: string[] = [];
  for (const candidate of candidates) {
    const address = normalizeAddress(candidate.address);
    if (!isAddrSpec(address) || known.has(address) || options.isDeskAddress(address)) continue;
    known.add(address);
    if (candidate.source !== 'from' && participants.length >= max) {
      aboveLimit.push(address);
      continue;
    }
    const participant: Participant = {
      address,
      name: candidate.name?.trim() ?? '',
      source: candidate.source,
      addedAt: options.now.toISOString(),
    };
    participants.push(participant);
    added.push(participant);
  }
  return { participants, added, aboveLimit };
};

/** A message id as stored and hashed: no angle brackets, no surrounding space. */
export const normalizeMessageId = (id: string): string =>
  id.trim().replace(/^<+/, '').replace(/>+$/, '').trim();

const appendCapped = (list: readonly string[], id: string | undefined): string[] | undefined => {
  if (id === undefined || id === '' || list.includes(id)) return undefined;
  return [...list, id].slice(-MAX_MESSAGE_IDS);
};

export interface RecordInboundInput extends TicketRef {
  /** The delivering mail's pipeline id; becomes `createdFromMail` when this call creates the record. */
  mailId: string;
  /** Its Message-ID (indexed, and added to `inboundMessageIds`). */
  messageId: string | undefined;
  /** The sender identity to add (From, never Reply-To); undefined to add nobody (a stranger's or an automated mail). */
  sender: Mailbox | undefined;
  /** The From address when it differs from `sender`: replies are authorised by From. */
  author?: Mailbox | undefined;
  /** The mail's Cc; added only when `participantsFromCc`. */
  cc: readonly Mailbox[];
  /** The project's `participants_from_cc`. */
  participantsFromCc: boolean;
  isDeskAddress: (address: string) => boolean;
}

export interface TicketChange {
  record: TicketRecord;
  added: Participant[];
  aboveLimit: string[];
}

export interface InboundChange extends TicketChange {
  /** The participants this mail added, on this attempt or an earlier one (`addedByMail`), in order. */
  addedByMail: Participant[];
}

/** The participants of a record that the mail `mailId` added (see `addedByMail`), in record order. */
export const participantsAddedBy = (record: TicketRecord, mailId: string): Participant[] => {
  const addresses = new Set(record.addedByMail?.find((entry) => entry.mailId === mailId)?.addresses);
  return record.participants.filter((participant) => addresses.has(participant.address));
};

/** The candidates an inbound mail offers: its sender, its From when that differs, and Cc by policy. */
const inboundCandidates = (input: RecordInboundInput): ParticipantCandidate[] => {
  const candidates: ParticipantCandidate[] = [];
  if (input.sender)
    candidates.push({ address: input.sender.address, name: input.sender.name, source: 'from' });
  // The From address may differ from Reply-To; it is the one replies are authorised by.
  if (input.author)
    candidates.push({ address: input.author.address, name: input.author.name, source: 'from' });
  if (input.participantsFromCc) {
    for (const cc of input.cc) candidates.push({ address: cc.address, name: cc.name, source: 'cc' });
  }
  return candidates;
};

/**
 * The pure change `recordInbound` makes to a record (`base`: the current one, or a fresh one when
 * `exists` is false), shared by every ticket store: participants merged, the message id appended,
 * and whom this mail added remembered. `next` is undefined when nothing changes.
 */
export const inboundChange = (
  base: TicketRecord,
  exists: boolean,
  input: RecordInboundInput,
  messageId: string | undefined,
  now: Date,
): { next: TicketRecord | undefined; merge: ParticipantMerge } => {
  const merge = mergeParticipants(base.participants, inboundCandidates(input), {
    isDeskAddress: input.isDeskAddress,
    now,
  });
  const inbound = appendCapped(base.inboundMessageIds, messageId);
  if (exists && merge.added.length === 0 && !inbound) return { next: undefined, merge };
  return {
    next: {
      ...base,
      updatedAt: now.toISOString(),
      participants: merge.participants,
      inboundMessageIds: inbound ?? base.inboundMessageIds,
      ...rememberAdded(base.addedByMail, input.mailId, merge.added),
    },
    merge,
  };
};

const rememberAdded = (
  additions: TicketRecord['addedByMail'],
  mailId: string,
  added: readonly Participant[],
): Pick<TicketRecord, 'addedByMail'> => {
  if (added.length === 0) return additions === undefined ? {} : { addedByMail: additions };
  const prior = additions?.find((entry) => entry.mailId === mailId);
  const others = (additions ?? []).filter((entry) => entry !== prior);
  const addresses = [...(prior?.addresses ?? []), ...added.map((participant) => participant.address)];
  return { addedByMail: [...others, { mailId, addresses }].slice(-MAX_MAIL_ADDITIONS) };
};

export interface TicketStore {
  key(projectPath: string, iid: number): string;
  get(projectPath: string, iid: number): Promise<TicketRecord | undefined>;
  /**
   * Records an inbound mail on a ticket (creating the record for a new issue): its message id, the
   * sender and, by policy, the Cc'd addresses. Then indexes the message id. Idempotent: a retry
   * adds nothing twice.
   */
  recordInbound(input: RecordInboundInput): Promise<InboundChange>;
  /** Records a mail we sent on the ticket; `messageId` must be the one the transport returned. */
  recordOutbound(projectPath: string, iid: number, messageId: string): Promise<TicketRecord>;
  /** Adds participants by hand (`manual`) or from a later source; capped like Cc. */
  addParticipants(
    projectPath: string,
    iid: number,
    candidates: readonly ParticipantCandidate[],
    isDeskAddress: (address: string) => boolean,
  ): Promise<TicketChange>;
  /** Flags a participant after a bounce or complaint; undefined when there is no such ticket. */
  markUndeliverable(
    projectPath: string,
    iid: number,
    address: string,
    reason: string,
  ): Promise<TicketRecord | undefined>;
  /** The compare-and-swap loop itself: `change` may run several times and must be pure. */
  update(
    projectPath: string,
    iid: number,
    change: (current: TicketRecord | undefined) => TicketRecord | undefined,
  ): Promise<TicketRecord | undefined>;
  /** Tickets a message id belongs to, at most one per project, oldest first. */
  lookupMessageId(messageId: string): Promise<TicketRef[]>;
  indexMessageId(messageId: string, ref: TicketRef, direction: 'inbound' | 'outbound'): Promise<void>;
}

export interface TicketStoreOptions {
  /** The desk's clock: dates participants, updates and bounces. */
  clock: Clock;
  /**
   * Compare-and-swap rounds before a TransientError (`ticket_conflict`).
   * @default 8
   */
  attempts?: number;
}

export const createTicketStore = (store: ObjectStore, options: TicketStoreOptions): TicketStore => {
  const { clock } = options;
  const attempts = options.attempts ?? 8;

  // Project paths are case-insensitive in GitLab, and the reply-token MAC lowercases them too.
  const key = (projectPath: string, iid: number): string =>
    `tickets/${projectPath.toLowerCase()}/${iid}.json`;
  const indexKey = (messageId: string): string => `msgid/${sha256Hex(normalizeMessageId(messageId))}.json`;

  const fresh = (ref: TicketRef, now: Date, createdFromMail: string | undefined): TicketRecord => ({
    version: 1,
    projectPath: ref.projectPath,
    iid: ref.iid,
    createdAt: now.toISOString(),
    updatedAt: now.toISOString(),
    ...(createdFromMail === undefined ? {} : { createdFromMail }),
    participants: [],
    inboundMessageIds: [],
    outboundMessageIds: [],
  });

  const update: TicketStore['update'] = async (projectPath, iid, change) =>
    (
      await updateJson(store, key(projectPath, iid), TicketRecordSchema, change, {
        attempts,
        conflictCode: 'ticket_conflict',
      })
    )?.value;

  /** Runs a change that also reports added/above-limit participants from its last (winning) round. */
  const updateWithParticipants = async (
    ref: TicketRef,
    change: (
      current: TicketRecord | undefined,
      now: Date,
    ) => { next: TicketRecord | undefined; merge: ParticipantMerge },
  ): Promise<TicketChange> => {
    let merge: ParticipantMerge = { participants: [], added: [], aboveLimit: [] };
    const record = await update(ref.projectPath, ref.iid, (current) => {
      const result = change(current, clock.now());
      merge = result.merge;
      return result.next;
    });
    if (!record)
      throw new PermanentError('ticket_missing', `ticket ${key(ref.projectPath, ref.iid)} was not written`);
    return { record, added: merge.added, aboveLimit: merge.aboveLimit };
  };

  const indexMessageId: TicketStore['indexMessageId'] = async (messageId, ref, direction) => {
    const id = normalizeMessageId(messageId);
    if (id === '') return;
    await updateJson(
      store,
      indexKey(id),
      MessageIdIndexSchema,
      (current) => {
        const tickets = current?.tickets ?? [];
        const project = ref.projectPath.toLowerCase();
        // First ticket per project wins: a later mail reusing a Message-ID must not steal its thread.
        if (tickets.some((ticket) => ticket.projectPath.toLowerCase() === project)) return undefined;
        if (tickets.length >= MAX_INDEX_TICKETS) return undefined;
        const entry = {
          projectPath: ref.projectPath,
          iid: ref.iid,
          direction,
          at: clock.now().toISOString(),
        };
        return { version: 1 as const, tickets: [...tickets, entry] };
      },
      { attempts, conflictCode: 'msgid_conflict' },
    );
  };

  return {
    key,
    update,
    indexMessageId,

    async get(projectPath, iid) {
      return (await readJson(store, key(projectPath, iid), TicketRecordSchema))?.value;
    },

    async recordInbound(input) {
      const messageId = input.messageId === undefined ? undefined : normalizeMessageId(input.messageId);
      const change = await updateWithParticipants(input, (current, now) =>
        inboundChange(
          current ?? fresh(input, now, input.mailId),
          current !== undefined,
          input,
          messageId,
          now,
        ),
      );
      // After the record: an index hit then always finds a record to check participants against.
      if (messageId) await indexMessageId(messageId, input, 'inbound');
      return { ...change, addedByMail: participantsAddedBy(change.record, input.mailId) };
    },

    async recordOutbound(projectPath, iid, messageId) {
      const id = normalizeMessageId(messageId);
      const record = await update(projectPath, iid, (current) => {
        const now = clock.now();
        const base = current ?? fresh({ projectPath, iid }, now, undefined);
        const outbound = appendCapped(base.outboundMessageIds, id);
        if (current && !outbound) return undefined;
        return {
          ...base,
          updatedAt: now.toISOString(),
          outboundMessageIds: outbound ?? base.outboundMessageIds,
        };
      });
      if (!record)
        throw new PermanentError('ticket_missing', `ticket ${key(projectPath, iid)} was not written`);
      await indexMessageId(id, { projectPath, iid }, 'outbound');
      return record;
    },

    async addParticipants(projectPath, iid, candidates, isDeskAddress) {
      return updateWithParticipants({ projectPath, iid }, (current, now) => {
        const base = current ?? fresh({ projectPath, iid }, now, undefined);
        const merge = mergeParticipants(base.participants, candidates, { isDeskAddress, now });
        if (current && merge.added.length === 0) return { next: undefined, merge };
        return { next: { ...base, updatedAt: now.toISOString(), participants: merge.participants }, merge };
      });
    },

    async markUndeliverable(projectPath, iid, address, reason) {
      const target = normalizeAddress(address);
      return update(projectPath, iid, (current) => {
        if (!current?.participants.some((participant) => participant.address === target)) return undefined;
        const now = clock.now().toISOString();
        return {
          ...current,
          updatedAt: now,
          participants: current.participants.map((participant) =>
            participant.address === target
              ? { ...participant, undeliverable: { at: now, reason } }
              : participant,
          ),
        };
      });
    },

    async lookupMessageId(messageId) {
      const id = normalizeMessageId(messageId);
      if (id === '') return [];
      const found = await readJson(store, indexKey(id), MessageIdIndexSchema);
      return (found?.value.tickets ?? []).map(({ projectPath, iid }) => ({ projectPath, iid }));
    },
  };
};
