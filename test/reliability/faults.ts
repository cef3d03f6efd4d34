import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { createGitLabForge } from '../../adapters/forges/gitlab/index.ts';
import { isTransient } from '../../core/errors.ts';
import type { InboundMail } from '../../core/model.ts';
import { type PipelineDeps, processMail } from '../../core/pipeline.ts';
import type { Forge, ObjectStore } from '../../core/ports.ts';
import { deliveryMarker } from '../../core/stages/deliver/marker.ts';
import type { DecisionTrace } from '../../core/trace.ts';
import { type FakeGitLab, startFakeGitLab } from '../support/fake-gitlab.ts';
import { TEST_FORGE_TOKEN } from '../support/test-secret.ts';
import type { MovableClock } from './harness.ts';

/**
 * Fault injection for the reliability suite: the fake GitLab with the test token, a GitLab adapter
 * that records its backoff instead of sleeping, wrappers that arm a fault before the n-th forge call
 * or "kill" the process right after a step, a proxy that loses GitLab's answer after GitLab acted,
 * and a stand-in for SQS that redelivers transient failures and dead-letters after the receive count.
 */

/** SQS redrive policy of the inbound queue (infra/constructs/queue-with-dead-letter.ts). */
export const MAX_RECEIVES = 5;
/** Visibility timeout: 6 x the inbound function's 120 s timeout (infra/stacks/stateless-stack.ts). */
export const VISIBILITY_MS = 12 * 60_000;

export const startGitLab = (): Promise<FakeGitLab> =>
  startFakeGitLab({
    tokens: [{ value: TEST_FORGE_TOKEN, userId: 2 }],
    projects: [{ path: 'acme/game', id: 7 }, { path: 'acme/docs' }],
  });

export interface ForgeKnobs {
  timeoutMs?: number;
  attempts?: number;
  maxRetryAfterMs?: number;
}

/** The real GitLab adapter against `url`; `waits` collects every backoff it would have slept. */
export const gitlabForge = (url: string, waits: number[] = [], knobs: ForgeKnobs = {}): Forge =>
  createGitLabForge({
    url,
    token: async () => TEST_FORGE_TOKEN,
    timeoutMs: knobs.timeoutMs ?? 2_000,
    connectTimeoutMs: knobs.timeoutMs ?? 2_000,
    retry: {
      attempts: knobs.attempts ?? 3,
      random: () => 0.5,
      sleep: async (ms) => {
        waits.push(ms);
      },
      ...(knobs.maxRetryAfterMs === undefined ? {} : { maxRetryAfterMs: knobs.maxRetryAfterMs }),
    },
  });

const FORGE_METHODS = [
  'createIssue',
  'uploadFile',
  'addNote',
  'getIssue',
  'reopenIssue',
  'findIssueByMarker',
  'findNoteByMarker',
  'readRepoFile',
] as const satisfies readonly Exclude<keyof Forge, 'kind'>[];
export type ForgeMethod = (typeof FORGE_METHODS)[number];

/**
 * A forge that calls `before(n, method)` ahead of its n-th call (1-based, all methods counted), so a
 * test arms a fake-GitLab fault for exactly that call's first request, and records the calls made.
 */
export const armedForge = (inner: Forge, before: (n: number, method: ForgeMethod) => void) => {
  const calls: ForgeMethod[] = [];
  const forge = { kind: inner.kind } as Forge;
  for (const method of FORGE_METHODS) {
    const call = inner[method] as (...args: unknown[]) => Promise<unknown>;
    Object.assign(forge, {
      [method]: (...args: unknown[]) => {
        calls.push(method);
        before(calls.length, method);
        return call.apply(inner, args);
      },
    });
  }
  return { forge, calls };
};

/** A promise that never settles: what a caller sees of a process that died mid-call. */
const never = <T>(): Promise<T> => new Promise<T>(() => undefined);

export interface Kill {
  /** Resolves once the step ran and the "process" died right after it. */
  reached: Promise<void>;
}

const killSwitch = () => {
  let signal: () => void = () => undefined;
  const reached = new Promise<void>((resolve) => {
    signal = resolve;
  });
  return { reached, fire: () => signal() };
};

/** A forge whose `method` does its work, then never answers (the function was killed right after). */
export const killAfterForgeCall = (inner: Forge, method: ForgeMethod): { forge: Forge } & Kill => {
  const kill = killSwitch();
  const forge = { kind: inner.kind } as Forge;
  for (const name of FORGE_METHODS) {
    const call = inner[name] as (...args: unknown[]) => Promise<unknown>;
    Object.assign(forge, {
      [name]: async (...args: unknown[]) => {
        const result = await call.apply(inner, args);
        if (name !== method) return result;
        kill.fire();
        return never();
      },
    });
  }
  return { forge, reached: kill.reached };
};

/** A store whose first write matching `when` is done, then never answers. */
export const killAfterStoreWrite = (
  inner: ObjectStore,
  when: (op: 'putIfAbsent' | 'putIfMatch' | 'put', key: string, body: string) => boolean,
): { store: ObjectStore } & Kill => {
  const kill = killSwitch();
  let fired = false;
  const wrap =
    <A extends unknown[], R>(
      op: 'putIfAbsent' | 'putIfMatch' | 'put',
      fn: (key: string, body: string, ...rest: A) => Promise<R>,
    ) =>
    async (key: string, body: string, ...rest: A): Promise<R> => {
      const result = await fn.call(inner, key, body, ...rest);
      if (fired || !when(op, key, body)) return result;
      fired = true;
      kill.fire();
      return never();
    };
  const store: ObjectStore = {
    get: (key) => inner.get(key),
    putIfAbsent: wrap('putIfAbsent', inner.putIfAbsent),
    putIfMatch: wrap('putIfMatch', inner.putIfMatch),
    put: wrap('put', inner.put),
    delete: (key) => inner.delete(key),
    list: (prefix) => inner.list(prefix),
  };
  return { store, reached: kill.reached };
};

/**
 * A proxy in front of the fake GitLab that can lose answers: an armed request is forwarded, GitLab
 * acts on it, and the client's connection is then destroyed instead of answered. This is the
 * dropped connection that matters for exactly-once (the fake's own `dropNext` drops a request
 * before GitLab sees it).
 */
export const startLossyProxy = async (target: string) => {
  let cut = 0;
  let cutDone = 0;
  const upstream = new URL(target);
  const server = http.createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (chunk: Buffer) => chunks.push(chunk));
    req.on('end', () => {
      const lose = cut > 0;
      if (lose) cut -= 1;
      const forward = http.request(
        {
          host: upstream.hostname,
          port: upstream.port,
          method: req.method,
          path: req.url,
          headers: { ...req.headers, host: upstream.host },
        },
        (answer) => {
          const body: Buffer[] = [];
          answer.on('data', (chunk: Buffer) => body.push(chunk));
          answer.on('end', () => {
            if (lose) {
              cutDone += 1;
              res.socket?.destroy();
              return;
            }
            res.writeHead(answer.statusCode ?? 502, answer.headers);
            res.end(Buffer.concat(body));
          });
        },
      );
      forward.on('error', () => res.socket?.destroy());
      forward.end(Buffer.concat(chunks));
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  return {
    url: `http://127.0.0.1:${port}`,
    /** The next `n` requests reach GitLab, but their answers are lost. */
    loseNextAnswers(n: number) {
      cut += n;
    },
    lost: () => cutDone,
    close: async () => {
      server.closeAllConnections();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
};

export type ProxyFault = 'pass' | '500' | '503' | '429' | 'drop' | 'lose';

/** A seeded PRNG (mulberry32): the same seed gives the same fault sequence. */
export const seededRandom = (seed: number): (() => number) => {
  let state = seed >>> 0;
  return () => {
    state = (state + 0x6d2b79f5) >>> 0;
    let t = state;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4_294_967_296;
  };
};

/**
 * A proxy in front of the fake GitLab that injects a fault per request, as `decide` says: answer
 * 500/503/429 without forwarding, drop the connection before forwarding, or forward and then lose
 * the answer (GitLab acted, the client never hears). Counts what it did.
 */
export const startFaultProxy = async (target: string, decide: () => ProxyFault) => {
  const upstream = new URL(target);
  const counts: Record<ProxyFault, number> = { pass: 0, '500': 0, '503': 0, '429': 0, drop: 0, lose: 0 };
  const server = http.createServer((req, res) => {
    const fault = decide();
    counts[fault] += 1;
    if (fault === 'drop') {
      req.socket.destroy();
      return;
    }
    const chunks: Buffer[] = [];
    req.on('data', (chunk: Buffer) => chunks.push(chunk));
    req.on('error', () => undefined);
    req.on('end', () => {
      if (fault === '500' || fault === '503' || fault === '429') {
        const status = Number(fault);
        res.writeHead(status, {
          'content-type': 'application/json',
          ...(status === 429 ? { 'retry-after': '1' } : {}),
        });
        res.end(JSON.stringify({ message: `${status} injected` }));
        return;
      }
      const forward = http.request(
        {
          host: upstream.hostname,
          port: upstream.port,
          method: req.method,
          path: req.url,
          headers: { ...req.headers, host: upstream.host },
        },
        (answer) => {
          const body: Buffer[] = [];
          answer.on('data', (chunk: Buffer) => body.push(chunk));
          answer.on('end', () => {
            if (fault === 'lose') {
              res.socket?.destroy();
              return;
            }
            res.writeHead(answer.statusCode ?? 502, answer.headers);
            res.end(Buffer.concat(body));
          });
        },
      );
      forward.on('error', () => res.socket?.destroy());
      forward.end(Buffer.concat(chunks));
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  return {
    url: `http://127.0.0.1:${port}`,
    counts,
    close: async () => {
      server.closeAllConnections();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
};

/** A loopback URL where nothing listens: every connection is refused. */
export const refusedUrl = async (): Promise<string> => {
  const server = http.createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  await new Promise<void>((resolve) => server.close(() => resolve()));
  return `http://127.0.0.1:${port}`;
};

// --- the queue ----------------------------------------------------------------------------------

export interface QueueRun {
  /** `done`: a receive ended with a decision; `dlq`: every receive failed. */
  state: 'done' | 'dlq';
  receives: number;
  trace: DecisionTrace | undefined;
  errors: unknown[];
}

export interface QueueOptions {
  clock: MovableClock;
  /** Deps for the n-th receive (1-based): a fresh forge, a healed store... */
  deps: (receive: number) => PipelineDeps;
  /** Runs after a failed receive, before the next (e.g. wait for a slow GitLab to finish). */
  between?: (receive: number, error: unknown) => Promise<void>;
  maxReceives?: number;
}

/**
 * SQS as the inbound function sees it: a failed receive (any throw; the handler reports the record
 * as a batch item failure) comes back after the visibility timeout, up to the receive count, then
 * goes to the dead-letter queue. The clock moves by the visibility timeout between receives.
 */
export const runThroughQueue = async (mail: InboundMail, options: QueueOptions): Promise<QueueRun> => {
  const errors: unknown[] = [];
  const max = options.maxReceives ?? MAX_RECEIVES;
  for (let receive = 1; receive <= max; receive++) {
    try {
      const trace = await processMail(mail, options.deps(receive));
      return { state: 'done', receives: receive, trace, errors };
    } catch (error) {
      errors.push(error);
      options.clock.advance(VISIBILITY_MS);
      await options.between?.(receive, error);
    }
  }
  return { state: 'dlq', receives: max, trace: undefined, errors };
};

/** Every failure the queue saw was transient (nothing permanent escaped the pipeline). */
export const allTransient = (run: QueueRun): boolean => run.errors.every((error) => isTransient(error));

/** Issues of `project` on the fake that carry this mail's hidden delivery marker. */
export const issuesOf = (gitlab: FakeGitLab, mailId: string, project = 'acme/game') => {
  const marker = deliveryMarker(mailId, project);
  return gitlab.issues(project).filter((issue) => (issue.description ?? '').includes(marker));
};

/** Notes of `project#iid` on the fake that carry this mail's hidden delivery marker. */
export const notesOf = (gitlab: FakeGitLab, mailId: string, iid: number, project = 'acme/game') => {
  const marker = deliveryMarker(mailId, project);
  return gitlab.notes(project, iid).filter((note) => note.body.includes(marker));
};

export const sleep = (ms: number): Promise<void> => new Promise((resolve) => setTimeout(resolve, ms));
