import * as z from 'zod';
import { PermanentError } from '../../../core/errors.ts';
import { sha256Hex } from '../../../core/state/json.ts';
import {
  inboundChange,
  MAX_MESSAGE_IDS,
  mergeParticipants,
  normalizeAddress,
  normalizeMessageId,
  type ParticipantMerge,
  participantsAddedBy,
  type TicketChange,
  type TicketRecord,
  TicketRecordSchema,
  type TicketRef,
  type TicketStore,
  type TicketStoreOptions,
} from '../../../core/state/tickets.ts';
import { ITEM_KIND, SINGLE_SK } from './constants.ts';
import { type DynamoTable, type Key, readDoc, updateDoc } from './table.ts';

/**
 * Ticket records and the message-id index (core/state/tickets.ts) on DynamoDB. A record is the item
 * pk `ticket#<lowercased project path>`, sk the iid; an index entry is pk `msgid#<sha256 of the
 * message id>`. Both are updated by read-modify-write on their `version` attribute, with the same
 * pure changes as the object-store implementation, so behaviour is identical.
 */

/** Tickets remembered per message id (one per project), as in core/state/tickets.ts. */
const MAX_INDEX_TICKETS = 20;

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

const appendCapped = (list: readonly string[], id: string | undefined): string[] | undefined => {
  if (id === undefined || id === '' || list.includes(id)) return undefined;
  return [...list, id].slice(-MAX_MESSAGE_IDS);
};

export const createDynamoTicketStore = (table: DynamoTable, options: TicketStoreOptions): TicketStore => {
  const { clock } = options;
  const attempts = options.attempts ?? 8;

  // Project paths are case-insensitive in GitLab, and the reply-token MAC lowercases them too.
  const key = (projectPath: string, iid: number): string =>
    `tickets/${projectPath.toLowerCase()}/${iid}.json`;
  const itemKey = (projectPath: string, iid: number): Key => ({
    pk: `${ITEM_KIND.ticket}${projectPath.toLowerCase()}`,
    sk: String(iid),
  });
  const indexKey = (messageId: string): Key => ({
    pk: `${ITEM_KIND.messageId}${sha256Hex(normalizeMessageId(messageId))}`,
    sk: SINGLE_SK,
  });

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
      await updateDoc(table, itemKey(projectPath, iid), TicketRecordSchema, change, {
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
    await updateDoc(
      table,
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
      return (await readDoc(table, itemKey(projectPath, iid), TicketRecordSchema))?.value;
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
      const found = await readDoc(table, indexKey(id), MessageIdIndexSchema);
      return (found?.value.tickets ?? []).map(({ projectPath, iid }) => ({ projectPath, iid }));
    },
  };
};
