import type { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import type { Clock } from '../../../core/ports.ts';
import type { DeskState } from '../../../core/state/index.ts';
import { createDynamoLedger } from './ledger.ts';
import { createDynamoOutboundStateStore } from './outbound.ts';
import { createDynamoQuarantine } from './quarantine.ts';
import { createDynamoRateLimiter } from './rate-limit.ts';
import { createDynamoTable } from './table.ts';
import { createDynamoTicketStore } from './tickets.ts';

export { ATTR, ITEM_KIND, SINGLE_SK, TABLE_KEY } from './constants.ts';

export interface DynamoStateOptions {
  /** Built once per cold start; its own retries (the SDK's) run before an error reaches us. */
  client: DynamoDBClient;
  tableName: string;
  clock: Clock;
  /** Ledger lease, when the caller cannot pass the invocation's remaining time per claim. */
  leaseMs?: number | undefined;
}

/**
 * The desk's state (everything but raw mail) in one DynamoDB table, behind the same ports as
 * `objectStoreState`: the pure code above them behaves the same on either.
 */
export const dynamoState = (options: DynamoStateOptions): DeskState => {
  const table = createDynamoTable(options.client, options.tableName, options.clock);
  return {
    ledger: createDynamoLedger(table, { clock: options.clock, leaseMs: options.leaseMs }),
    tickets: createDynamoTicketStore(table, { clock: options.clock }),
    quarantine: createDynamoQuarantine(table, { clock: options.clock }),
    limiter: createDynamoRateLimiter(table, { clock: options.clock }),
    outbound: createDynamoOutboundStateStore(table, { clock: options.clock }),
  };
};
