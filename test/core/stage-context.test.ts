import { describe, expect, it } from 'vitest';
import { createMemoryObjectStore } from '../../adapters/local/memory-object-store.ts';
import { deliveringExecutor, type Executor } from '../../core/execute.ts';
import { type PipelineDeps, processMail } from '../../core/pipeline.ts';
import type { StageContext } from '../../core/stages/contracts.ts';
import { type DeskState, objectStoreState } from '../../core/state/index.ts';
import { createHarness, movableClock, simpleMail } from '../reliability/harness.ts';

/**
 * One stage context per mail (issue 13): the pipeline works on exactly the DeskState it is given.
 * Its stages, decide and the executor see the same ledger, ticket store, rate limiter and
 * quarantine, and the same clock; nothing builds a store of its own.
 */

type Port = keyof DeskState;

/** Wraps every method of every port of `state`, recording `port.method` in order. */
const recording = (state: DeskState) => {
  const calls: string[] = [];
  const wrap = <T extends object>(port: Port, target: T): T =>
    new Proxy(target, {
      get(object, name, receiver) {
        const value = Reflect.get(object, name, receiver);
        if (typeof value !== 'function') return value;
        return (...args: unknown[]) => {
          calls.push(`${port}.${String(name)}`);
          return value.apply(object, args);
        };
      },
    });
  const wrapped: DeskState = {
    ledger: wrap('ledger', state.ledger),
    tickets: wrap('tickets', state.tickets),
    quarantine: wrap('quarantine', state.quarantine),
    limiter: wrap('limiter', state.limiter),
    outbound: wrap('outbound', state.outbound),
  };
  return { state: wrapped, calls, ports: () => [...new Set(calls.map((call) => call.split('.')[0]))] };
};

/** The delivering executor, keeping every context it is handed. */
const watchedExecutor = (deps: PipelineDeps) => {
  const inner = deliveringExecutor(deps);
  const contexts: { where: string; context: StageContext }[] = [];
  const executor: Executor = {
    dryRun: inner.dryRun,
    view: {
      limit: (input, context) => {
        contexts.push({ where: 'limit', context });
        return inner.view.limit(input, context);
      },
      repoFile: (project, path) => inner.view.repoFile(project, path),
    },
    execute: (plan, input, context) => {
      contexts.push({ where: 'execute', context });
      return inner.execute(plan, input, context);
    },
    quarantine: (entry, context) => {
      contexts.push({ where: 'quarantine', context });
      return inner.quarantine(entry, context);
    },
  };
  return { executor, contexts };
};

const setup = () => {
  const clock = movableClock('2026-03-02T10:00:00.000Z');
  // The harness's own state is never handed to the pipeline below: only `given` is.
  const desk = createHarness({ clock });
  const store = createMemoryObjectStore();
  const given = recording(objectStoreState(store, { clock }));
  const deps: PipelineDeps = { ...desk.deps, state: given.state };
  return { clock, desk, store, given, deps };
};

describe('one stage context per mail', () => {
  it('a new ticket is claimed, counted, delivered and recorded through the DeskState given, and nothing else', async () => {
    // Prepare
    const { desk, store, given, deps } = setup();
    // Act
    const trace = await processMail(desk.arrive(simpleMail({ messageId: 'first@mail.example.com' })), deps);
    // Assess
    expect(trace.outcome).toBe('issue');
    expect(given.calls).toEqual(
      expect.arrayContaining(['limiter.hitOnce', 'ledger.begin', 'tickets.recordInbound', 'ledger.complete']),
    );
    expect(given.ports().sort()).toEqual(['ledger', 'limiter', 'tickets']);
    // What the run wrote is in the given state's store, and the harness's own store stayed empty.
    expect(Object.keys(store.snapshot()).some((key) => key.startsWith('tickets/acme/game/1'))).toBe(true);
    expect(desk.store.snapshot()).toEqual({});
  });

  it('thread, limit and deliver of a reply see the same ticket store, limiter and clock', async () => {
    // Prepare: the ticket exists
    const { clock, desk, given, deps } = setup();
    await processMail(desk.arrive(simpleMail({ messageId: 'first@mail.example.com' })), deps);
    given.calls.length = 0;
    clock.advance(60_000);
    const watched = watchedExecutor(deps);
    // Act
    const trace = await processMail(
      desk.arrive(
        simpleMail({
          subject: 'Re: The game crashes on start',
          messageId: 'reply@mail.example.com',
          headers: [['In-Reply-To', '<first@mail.example.com>']],
        }),
      ),
      { ...deps, executor: watched.executor },
    );
    // Assess
    expect(trace.outcome).toBe('note');
    // Thread looked the reply up, deliver recorded it: both on the one ticket store given.
    const ticketCalls = given.calls.filter((call) => call.startsWith('tickets.'));
    expect(ticketCalls[0]).toBe('tickets.lookupMessageId');
    expect(ticketCalls).toContain('tickets.recordInbound');
    const [limit, execute] = watched.contexts;
    expect(watched.contexts.map((seen) => seen.where)).toEqual(['limit', 'execute']);
    for (const seen of [limit, execute]) {
      expect(seen?.context.tickets).toBe(given.state.tickets);
      expect(seen?.context.ledger).toBe(given.state.ledger);
      expect(seen?.context.limiter).toBe(given.state.limiter);
      expect(seen?.context.quarantine).toBe(given.state.quarantine);
      expect(seen?.context.clock).toBe(deps.clock);
    }
    // The ticket store runs on the pipeline's clock: the record says when the reply came.
    const ticket = await given.state.tickets.get('acme/game', 1);
    expect(ticket?.updatedAt).toBe(clock.now().toISOString());
  });

  it('a quarantined mail is kept in the given quarantine, handed the same context', async () => {
    // Prepare
    const { desk, given, deps } = setup();
    const watched = watchedExecutor(deps);
    // Act: no From at all, so the project's policy quarantines it
    const trace = await processMail(desk.arrive('Subject: no author\r\n\r\nhello\r\n'), {
      ...deps,
      executor: watched.executor,
    });
    // Assess
    expect(trace.outcome).toBe('quarantined');
    expect(given.calls).toContain('quarantine.put');
    expect(watched.contexts.at(-1)?.where).toBe('quarantine');
    expect(watched.contexts.at(-1)?.context.quarantine).toBe(given.state.quarantine);
    expect((await given.state.quarantine.get(trace.mailId))?.reason).toBe(trace.reason);
  });
});
