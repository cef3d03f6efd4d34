import * as z from 'zod';
import { normalizeAddress } from '../state/tickets.ts';
import type { IntentStore } from './intent.ts';

/**
 * What the outbound half remembers per ticket, beside the ticket record (core/state/tickets.ts),
 * at `outbox/tickets/<project path>/<iid>.json` (`outbox/` is a state prefix the functions may write):
 *
 * - `unsubscribed`: participants who used the unsubscribe link; nothing more is mailed to them.
 *   (Bounces and complaints go to the ticket record's `undeliverable` instead.)
 * - `sent`: the mails already sent (`jobKey`), so a queue that delivers a job twice does not mail
 *   a customer twice. Capped; the newest are kept.
 * - `greeted`: participants who were considered for a thank-you or new-participant mail, sent or
 *   not, so a later reply never greets them again.
 * - `intents`: automatic mails whose send began and has not been recorded as sent, written before
 *   the send so a crash in it never sends them twice (core/outbound/intent.ts). Capped.
 *
 * The store itself is a state port (DeskState.outbound): core/state/outbound.ts on an object store.
 */

/** Sent mails remembered per ticket; the newest are kept. */
export const MAX_SENT = 1000;

export const OutboundTicketStateSchema = z.object({
  version: z.literal(1),
  unsubscribed: z.array(z.object({ address: z.string(), at: z.string() })),
  sent: z.array(z.object({ key: z.string(), at: z.string(), messageId: z.string() })),
  greeted: z.array(z.string()),
  /** Absent in state written before intents were recorded. */
  intents: z.array(z.object({ key: z.string(), at: z.string() })).default([]),
});
export type OutboundTicketState = z.output<typeof OutboundTicketStateSchema>;

/** The state of a ticket nothing was recorded for yet. */
export const emptyOutboundTicketState = (): OutboundTicketState => ({
  version: 1,
  unsubscribed: [],
  sent: [],
  greeted: [],
  intents: [],
});

export interface OutboundStateStore extends IntentStore {
  get(projectPath: string, iid: number): Promise<OutboundTicketState>;
  /** True when the address was newly unsubscribed, false when it already was. */
  unsubscribe(projectPath: string, iid: number, address: string): Promise<boolean>;
  /** Records the mail as sent (and its intent, if any, as fulfilled). */
  recordSent(projectPath: string, iid: number, key: string, messageId: string): Promise<void>;
  /** Marks addresses greeted; returns those that were not before (the ones to greet now). */
  greet(projectPath: string, iid: number, addresses: readonly string[]): Promise<string[]>;
}

export const isUnsubscribed = (state: OutboundTicketState, address: string): boolean =>
  state.unsubscribed.some((entry) => entry.address === normalizeAddress(address));

export const wasSent = (state: OutboundTicketState, key: string): boolean =>
  state.sent.some((entry) => entry.key === key);
