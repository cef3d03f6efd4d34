import { intentMethods, withoutIntent } from '../outbound/intent.ts';
import {
  emptyOutboundTicketState,
  MAX_SENT,
  type OutboundStateStore,
  type OutboundTicketState,
  OutboundTicketStateSchema,
} from '../outbound/state.ts';
import type { Clock, ObjectStore } from '../ports.ts';
import { readJson, updateJson } from './json.ts';
import { normalizeAddress } from './tickets.ts';

/**
 * The outbound half's per-ticket state (core/outbound/state.ts) on the ObjectStore, at
 * `outbox/tickets/<project path>/<iid>.json` (`outbox/` is a state prefix the functions may write),
 * updated by compare-and-swap.
 */
export const createOutboundStateStore = (
  store: ObjectStore,
  options: { clock: Clock },
): OutboundStateStore => {
  const { clock } = options;
  const key = (projectPath: string, iid: number): string =>
    `outbox/tickets/${projectPath.toLowerCase()}/${iid}.json`;
  const update = (
    projectPath: string,
    iid: number,
    change: (current: OutboundTicketState) => OutboundTicketState | undefined,
  ) =>
    updateJson(
      store,
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
        (await readJson(store, key(projectPath, iid), OutboundTicketStateSchema))?.value ??
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
