import { intentMethods, withoutIntent } from '../../../core/outbound/intent.ts';
import {
  emptyOutboundTicketState,
  MAX_SENT,
  type OutboundStateStore,
  type OutboundTicketState,
  OutboundTicketStateSchema,
} from '../../../core/outbound/state.ts';
import type { Clock } from '../../../core/ports.ts';
import { normalizeAddress } from '../../../core/state/tickets.ts';
import { ITEM_KIND } from './constants.ts';
import { type DynamoTable, type Key, readDoc, updateDoc } from './table.ts';

/**
 * The outbound half's per-ticket state (core/outbound/state.ts) on DynamoDB: pk `outbox#<lowercased
 * project path>`, sk the iid, updated by read-modify-write on `version` with the same changes.
 */

export const createDynamoOutboundStateStore = (
  table: DynamoTable,
  options: { clock: Clock },
): OutboundStateStore => {
  const { clock } = options;
  const key = (projectPath: string, iid: number): Key => ({
    pk: `${ITEM_KIND.outbound}${projectPath.toLowerCase()}`,
    sk: String(iid),
  });
  const update = (
    projectPath: string,
    iid: number,
    change: (current: OutboundTicketState) => OutboundTicketState | undefined,
  ) =>
    updateDoc(
      table,
      key(projectPath, iid),
      OutboundTicketStateSchema,
      (current) => change(current ?? emptyOutboundTicketState()),
      {
        conflictCode: 'outbound_state_conflict',
      },
    );

  return {
    async get(projectPath, iid) {
      return (
        (await readDoc(table, key(projectPath, iid), OutboundTicketStateSchema))?.value ??
        emptyOutboundTicketState()
      );
    },

    async unsubscribe(projectPath, iid, address) {
      const target = normalizeAddress(address);
      let added = false;
      await update(projectPath, iid, (current) => {
        added = !current.unsubscribed.some((entry) => entry.address === target);
        if (!added) return undefined;
        return {
          ...current,
          unsubscribed: [...current.unsubscribed, { address: target, at: clock.now().toISOString() }],
        };
      });
      return added;
    },

    async recordSent(projectPath, iid, sentKey, messageId) {
      await update(projectPath, iid, (current) => {
        if (current.sent.some((entry) => entry.key === sentKey)) return undefined;
        const sent = [...current.sent, { key: sentKey, at: clock.now().toISOString(), messageId }].slice(
          -MAX_SENT,
        );
        const next = { ...current, sent };
        return withoutIntent(next, sentKey) ?? next;
      });
    },

    ...intentMethods(update, clock),

    async greet(projectPath, iid, addresses) {
      let fresh: string[] = [];
      await update(projectPath, iid, (current) => {
        const known = new Set(current.greeted);
        fresh = [...new Set(addresses.map(normalizeAddress))].filter((address) => !known.has(address));
        if (fresh.length === 0) return undefined;
        return { ...current, greeted: [...current.greeted, ...fresh] };
      });
      return fresh;
    },
  };
};
