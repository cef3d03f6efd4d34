/**
 * `e2e_latency`: milliseconds for one mail with 5 attachments, through the whole pipeline and the
 * real GitLab adapter, against the fake GitLab answering every request 50 ms late
 * (`setLatency(50)`); against what a serial client would wait for the same requests (their number
 * times 50 ms).
 *
 *   node --import tsx bench/e2e.ts [--runs 9] [--smoke] [--only NAME]
 *
 * The raw mail streams from memory, the state is in memory (its requests are counted: they are
 * the S3 requests the function would make), the forge is `createGitLabForge` over HTTP on
 * loopback. Each run is a new mail id, so a new ticket; the figure is the median run after one
 * warm-up. The same runs with no latency (`no_latency_ms`) give the pipeline's own time; a few
 * more with every store request also 20 ms late (`with_store_latency_ms`) stand in for S3.
 */
import { randomBytes } from 'node:crypto';
import { performance } from 'node:perf_hooks';
import { createGitLabForge } from '../adapters/forges/gitlab/index.ts';
import { createMemoryObjectStore } from '../adapters/local/memory-object-store.ts';
import { processMail } from '../core/pipeline.ts';
import { type ObjectStore, type RawMailStore, systemClock } from '../core/ports.ts';
import { DEFAULT_UPLOAD_CONCURRENCY } from '../core/stages/deliver/index.ts';
import { objectStoreState } from '../core/state/index.ts';
import { startFakeGitLab } from '../test/support/fake-gitlab.ts';
import {
  type BenchArgs,
  benchConfig,
  benchSecrets,
  countingRawStore,
  countingStore,
  emit,
  inboundMail,
  isMain,
  median,
  memoryRawStore,
  multipartMail,
  parseBenchArgs,
  progress,
  quietLogger,
  round,
  wanted,
} from './lib.ts';

export const NAME = 'e2e_latency';

const LATENCY_MS = 50;
/** A small S3 request's time to first byte in-region, roughly; for `with_store_latency_ms`. */
const S3_LATENCY_MS = 20;
/** Runs with store latency (each takes a second or more). */
const S3_RUNS = 3;

const pause = (ms: number): Promise<void> =>
  ms > 0 ? new Promise((resolve) => setTimeout(resolve, ms)) : Promise.resolve();

/** Runs `fn` after `ms`: the store's answer, late. */
const late = async <T>(ms: number, fn: () => Promise<T>): Promise<T> => {
  await pause(ms);
  return fn();
};

/** The store, each request answered `ms` late (a list: once, before its first key). */
const latent = (inner: ObjectStore, ms: number): ObjectStore => ({
  get: (key) => late(ms, () => inner.get(key)),
  putIfAbsent: (key, body) => late(ms, () => inner.putIfAbsent(key, body)),
  putIfMatch: (key, body, etag) => late(ms, () => inner.putIfMatch(key, body, etag)),
  put: (key, body) => late(ms, () => inner.put(key, body)),
  delete: (key) => late(ms, () => inner.delete(key)),
  list: async function* list(prefix) {
    await pause(ms);
    yield* inner.list(prefix);
  },
});

const latentRaw = (inner: RawMailStore, ms: number): RawMailStore => ({
  open: (key) => late(ms, () => inner.open(key)),
  size: (key) => late(ms, () => inner.size(key)),
});

/** Five attachments of the kinds a bug report carries; random bytes, so nothing compresses. */
const attachments = (scale: number) =>
  [
    { filename: 'screenshot.png', contentType: 'image/png', size: 180_000 },
    { filename: 'game.log', contentType: 'text/plain', size: 60_000 },
    { filename: 'settings.json', contentType: 'application/json', size: 3_000 },
    { filename: 'crash-report.pdf', contentType: 'application/pdf', size: 120_000 },
    { filename: 'save.dat', contentType: 'application/octet-stream', size: 250_000 },
  ].map(({ size, ...rest }) => ({ ...rest, content: randomBytes(Math.ceil(size * scale)) }));

interface Run {
  ms: number;
  requests: string[];
  store: { get: number; put: number; delete: number; list: number };
  raw: { open: number; size: number };
}

export const runE2eBench = async (args: BenchArgs): Promise<void> => {
  if (!wanted(args, NAME)) return;
  const runs = args.runs ?? (args.smoke ? 1 : 9);
  const files = attachments(args.smoke ? 0.01 : 1);
  const raw = multipartMail({
    subject: 'The game crashes when I load my save',
    text: 'Hello,\r\n\r\nthe game crashes when I load my save. Logs, settings and the save are attached.\r\n\r\nAlice\r\n',
    attachments: files,
  });
  const gitlab = await startFakeGitLab();
  try {
    const config = benchConfig(gitlab.url);
    const forge = createGitLabForge({ url: gitlab.url, token: async () => gitlab.token });
    const oneMail = async (id: string, storeLatencyMs = 0): Promise<Run> => {
      const store = countingStore(latent(createMemoryObjectStore(), storeLatencyMs));
      const rawStore = countingRawStore(
        latentRaw(memoryRawStore(new Map([['mail/e2e', raw]])), storeLatencyMs),
      );
      gitlab.clearRequests();
      const started = performance.now();
      const trace = await processMail(inboundMail(id, 'mail/e2e'), {
        config,
        rawStore,
        state: objectStoreState(store, { clock: systemClock }),
        forge,
        secrets: benchSecrets(gitlab.token),
        clock: systemClock,
        logger: quietLogger,
      });
      const ms = performance.now() - started;
      const uploads = trace.deliveries[0]?.issue?.uploads.length ?? 0;
      if (trace.outcome !== 'issue' || uploads !== files.length) {
        throw new Error(`the e2e mail ended ${trace.outcome} (${trace.reason}) with ${uploads} uploads`);
      }
      const requests = gitlab.requests.map(
        (request) => `${request.method} ${request.path.replace(/\/projects\/[^/]+/, '/projects/:id')}`,
      );
      return { ms, requests, store: { ...store.counts }, raw: { ...rawStore.counts } };
    };

    progress(
      `${NAME}: ${round(raw.length / 1024)} KB mail, ${files.length} attachments, ${runs} runs at ${LATENCY_MS} ms and at 0 ms`,
    );
    const measured: Run[] = [];
    const bare: Run[] = [];
    const withS3: Run[] = [];
    gitlab.setLatency(LATENCY_MS);
    await oneMail('e2e-warm-up');
    for (let run = 0; run < runs; run++) {
      gitlab.setLatency(LATENCY_MS);
      measured.push(await oneMail(`e2e-${run}`));
      gitlab.setLatency(0);
      bare.push(await oneMail(`e2e-bare-${run}`));
      if (run < S3_RUNS) {
        gitlab.setLatency(LATENCY_MS);
        withS3.push(await oneMail(`e2e-s3-${run}`, S3_LATENCY_MS));
      }
    }

    const first = measured[0];
    if (first === undefined) return;
    const requestCounts: Record<string, number> = {};
    for (const request of first.requests) requestCounts[request] = (requestCounts[request] ?? 0) + 1;
    const uploadsMade = first.requests.filter((request) => request.endsWith('/uploads')).length;
    const others = first.requests.length - uploadsMade;
    emit(
      {
        name: NAME,
        value: round(median(measured.map((run) => run.ms))),
        unit: `ms for one mail (median of ${runs} runs, every forge request answered ${LATENCY_MS} ms late)`,
        baseline: first.requests.length * LATENCY_MS,
        baseline_is: `${first.requests.length} requests x ${LATENCY_MS} ms (a serial client)`,
        // The least any client can wait with uploads `DEFAULT_UPLOAD_CONCURRENCY` at a time and the
        // other requests after them, one by one.
        bound_floor_ms: (Math.ceil(uploadsMade / DEFAULT_UPLOAD_CONCURRENCY) + others) * LATENCY_MS,
        upload_concurrency: DEFAULT_UPLOAD_CONCURRENCY,
        no_latency_ms: round(median(bare.map((run) => run.ms))),
        // The same mail with every state and raw-mail request also answered 20 ms late, as S3 would:
        // the closest this bench gets to the function's billed duration (docs/PERFORMANCE.md).
        with_store_latency_ms: round(median(withS3.map((run) => run.ms))),
        store_latency_ms: S3_LATENCY_MS,
        min_ms: round(Math.min(...measured.map((run) => run.ms))),
        max_ms: round(Math.max(...measured.map((run) => run.ms))),
        requests: requestCounts,
        mail_bytes: raw.length,
        attachment_bytes: files.reduce((sum, file) => sum + file.content.length, 0),
        // The requests S3 would bill for this mail (see docs/PERFORMANCE.md, cost per 1,000 mails).
        state_requests: first.store,
        raw_mail_requests: { get: first.raw.open, head: first.raw.size },
      },
      { of: 'ratio', op: '<=', limit: 0.5 },
    );
  } finally {
    await gitlab.close();
  }
};

if (isMain(import.meta.url)) {
  await runE2eBench(parseBenchArgs());
}
