import { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { describe, expect, it } from 'vitest';
import { dynamoState } from '../../adapters/aws/dynamo/index.ts';
import { createMemoryObjectStore } from '../../adapters/local/memory-object-store.ts';
import type { StageContext } from '../../core/stages/contracts.ts';
import { objectStoreState } from '../../core/state/index.ts';
import { createLedger } from '../../core/state/ledger.ts';
import { createOutboundStateStore } from '../../core/state/outbound.ts';
import { createQuarantine } from '../../core/state/quarantine.ts';
import { createRateLimiter } from '../../core/state/rate-limit.ts';
import { createTicketStore } from '../../core/state/tickets.ts';
import { deskConfig, movableClock } from '../reliability/harness.ts';

/**
 * The clock is required, never defaulted to the wall clock inside core/ (issue 13): a state or a
 * stage context built without one does not compile. The check is the type checker's
 * (`npm run typecheck`, part of `npm test`): each `@ts-expect-error` below fails it the day the
 * line compiles again. The factories are only referenced, never run without a clock.
 */

const store = createMemoryObjectStore();

const withoutClock = [
  // @ts-expect-error the ledger dates leases by the desk's clock
  () => createLedger(store, {}),
  // @ts-expect-error the ticket store dates participants by the desk's clock
  () => createTicketStore(store, {}),
  // @ts-expect-error the quarantine dates entries by the desk's clock
  () => createQuarantine(store, {}),
  // @ts-expect-error the rate windows run on the desk's clock
  () => createRateLimiter(store, {}),
  // @ts-expect-error the outbound state dates unsubscribes by the desk's clock
  () => createOutboundStateStore(store, {}),
  // @ts-expect-error the desk's state is built on one clock
  () => objectStoreState(store, {}),
  // @ts-expect-error the DynamoDB state too
  () => dynamoState({ client: new DynamoDBClient({}), tableName: 'postdesk-state' }),
];

describe('the clock is required', () => {
  it('no state factory compiles without one (checked by tsc)', () => {
    expect(withoutClock).toHaveLength(7);
  });

  it('nor does a stage context (checked by tsc)', () => {
    const state = objectStoreState(store, { clock: movableClock() });
    // @ts-expect-error a stage context without a clock
    const context: StageContext = {
      config: deskConfig(),
      tickets: state.tickets,
      ledger: state.ledger,
      limiter: state.limiter,
      quarantine: state.quarantine,
      isDeskAddress: () => false,
    };
    expect(context.clock).toBeUndefined();
  });
});
