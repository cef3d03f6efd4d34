/**
 * One measurement of `big_mail_peak_rss` (bench/big-mail.ts), in a fresh process: bundled by the
 * parent with the Lambda's esbuild settings and run with plain `node`, so the floor is what the
 * function would carry, not the TypeScript loader. Prints one JSON object: its own peak RSS
 * (`process.resourceUsage().maxRSS`), heap and ArrayBuffer peaks sampled every 5 ms, the time,
 * and how many attachment bytes reached the forge.
 *
 *   node big-mail-child.mjs --child=<postdesk|simple|gitlab|idle> <mail file> [<forge url> <token>]
 */
import { createReadStream } from 'node:fs';
import { basename, dirname } from 'node:path';
import { performance } from 'node:perf_hooks';
import type { Readable } from 'node:stream';
import type { Forge, ForgeIssue } from '../core/ports.ts';
import {
  benchConfig,
  benchSecrets,
  inboundMail,
  isMain,
  parseBenchArgs,
  peakRssMiB,
  quietLogger,
  round,
} from './lib.ts';

/** The generated mail's attachment (bench/lib.ts `writeBigMail`). */
export const ATTACHMENT_FILE = 'core.dump';

export interface ChildFigures {
  kind: string;
  rssMiB: number;
  heapPeakMiB: number;
  arrayBuffersPeakMiB: number;
  ms: number;
  /** Attachment bytes that reached the forge (or simpleParser's Buffers). */
  attachmentBytes: number;
  /** Every upload the forge received: file name -> bytes (a truncated mail adds `original.eml`). */
  uploads: Record<string, number>;
  outcome: string;
}

/** A forge that takes uploads as streams and keeps nothing but their byte counts. */
const countingForge = (): Forge & { uploads: Record<string, number> } => {
  const issue = (iid: number): ForgeIssue => ({
    iid,
    id: 1000 + iid,
    title: 'issue',
    state: 'opened',
    webUrl: `https://gitlab.example.com/acme/game/-/issues/${iid}`,
    confidential: true,
    labels: [],
    assignees: [],
  });
  const forge = {
    kind: 'counting',
    uploads: {} as Record<string, number>,
    async createIssue() {
      return issue(1);
    },
    async uploadFile(_project: unknown, input: { filename: string; content: Readable }) {
      let bytes = 0;
      for await (const chunk of input.content) bytes += (chunk as Buffer).length;
      forge.uploads[input.filename] = bytes;
      const url = `/uploads/0123456789abcdef/${input.filename}`;
      return { markdown: `[${input.filename}](${url})`, url, alt: input.filename };
    },
    async addNote() {
      return { id: 1, body: '', internal: false };
    },
    async getIssue() {
      return undefined;
    },
    async reopenIssue() {},
    async findIssueByMarker() {
      return undefined;
    },
    async findNoteByMarker() {
      return undefined;
    },
    async readRepoFile() {
      return undefined;
    },
  };
  return forge;
};

const measureChild = async (kind: string, file: string, gitlab: { url: string; token: string }) => {
  const peaks = { heap: 0, arrayBuffers: 0 };
  const sample = (): void => {
    const usage = process.memoryUsage();
    peaks.heap = Math.max(peaks.heap, usage.heapUsed);
    peaks.arrayBuffers = Math.max(peaks.arrayBuffers, usage.arrayBuffers);
  };
  const timer = setInterval(sample, 5);
  const started = performance.now();
  let attachmentBytes = 0;
  let uploads: Record<string, number> = {};
  let outcome = 'none';
  if (kind === 'simple') {
    // Each kind imports only what it runs, so its floor is its own (mailparser alone is ~20 MiB).
    const { simpleParser } = await import('mailparser');
    const parsed = await simpleParser(createReadStream(file), { skipHtmlToText: true, skipTextToHtml: true });
    attachmentBytes = parsed.attachments.reduce((sum, attachment) => sum + attachment.content.length, 0);
    outcome = 'parsed';
  } else if (kind === 'idle-simple') {
    await import('mailparser');
  } else if (kind === 'postdesk' || kind === 'gitlab' || kind === 'idle-postdesk') {
    const [{ createGitLabForge }, memory, { createFileRawMailStore }, { processMail }, ports, state] =
      await Promise.all([
        import('../adapters/forges/gitlab/index.ts'),
        import('../adapters/local/memory-object-store.ts'),
        import('../adapters/local/raw-mail-store.ts'),
        import('../core/pipeline.ts'),
        import('../core/ports.ts'),
        import('../core/state/index.ts'),
      ]);
    if (kind !== 'idle-postdesk') {
      const counting = countingForge();
      const forge =
        kind === 'gitlab'
          ? createGitLabForge({ url: gitlab.url, token: async () => gitlab.token })
          : counting;
      const trace = await processMail(inboundMail('big-mail', basename(file)), {
        config: benchConfig(gitlab.url || undefined),
        rawStore: createFileRawMailStore(dirname(file)),
        state: state.objectStoreState(memory.createMemoryObjectStore(), { clock: ports.systemClock }),
        forge,
        secrets: benchSecrets(gitlab.token),
        clock: ports.systemClock,
        logger: quietLogger,
      });
      outcome = trace.outcome;
      // For `gitlab` the parent counts what reached the fake GitLab.
      uploads = counting.uploads;
      attachmentBytes = uploads[ATTACHMENT_FILE] ?? 0;
      if (trace.outcome !== 'issue') throw new Error(`the big mail ended ${trace.outcome}: ${trace.message}`);
    }
  } else if (kind !== 'idle') {
    throw new Error(`unknown kind ${kind}`);
  }
  sample();
  clearInterval(timer);
  const mib = (bytes: number): number => round(bytes / 1024 / 1024);
  const figures: ChildFigures = {
    kind,
    rssMiB: round(peakRssMiB()),
    heapPeakMiB: mib(peaks.heap),
    arrayBuffersPeakMiB: mib(peaks.arrayBuffers),
    ms: Math.round(performance.now() - started),
    attachmentBytes,
    uploads,
    outcome,
  };
  process.stdout.write(`${JSON.stringify(figures)}\n`);
};

if (isMain(import.meta.url)) {
  const args = parseBenchArgs();
  const [file = '', url = '', token = ''] = args.rest;
  await measureChild(args.child ?? 'idle', file, { url, token });
}
