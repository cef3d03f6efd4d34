import type { OutboundStateStore } from '../outbound/state.ts';
import type { Clock, ObjectStore } from '../ports.ts';
import { createLedger, type Ledger } from './ledger.ts';
import { createOutboundStateStore } from './outbound.ts';
import { createQuarantine, type Quarantine } from './quarantine.ts';
import { createRateLimiter, type RateLimiter } from './rate-limit.ts';
import { createTicketStore, type TicketStore } from './tickets.ts';

/**
 * The desk's state behind domain-level ports: each store (JSON objects with conditional writes, a
 * DynamoDB table, files under `.postdesk/`) implements them with its own primitives, and the pure
 * code above them never sees which one it is. Built once per cold start (or per CLI process) with
 * the clock every stage of a mail shares.
 */
export interface DeskState {
  ledger: Ledger;
  tickets: TicketStore;
  quarantine: Quarantine;
  limiter: RateLimiter;
  outbound: OutboundStateStore;
}

export interface ObjectStoreStateOptions {
  clock: Clock;
  /** Ledger lease, when the caller cannot pass the invocation's remaining time per claim. */
  leaseMs?: number | undefined;
}

/** The desk's state on one object store with conditional writes (S3, local files, memory). */
export const objectStoreState = (store: ObjectStore, options: ObjectStoreStateOptions): DeskState => ({
  ledger: createLedger(store, {
    clock: options.clock,
    ...(options.leaseMs !== undefined ? { leaseMs: options.leaseMs } : {}),
  }),
  tickets: createTicketStore(store, { clock: options.clock }),
  quarantine: createQuarantine(store, { clock: options.clock }),
  limiter: createRateLimiter(store, { clock: options.clock }),
  outbound: createOutboundStateStore(store, { clock: options.clock }),
});
