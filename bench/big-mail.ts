/**
 * `big_mail_peak_rss`: peak resident memory (MiB) of one process that takes a 35 MB mail (a 30 MB
 * base64 attachment of random bytes, plus 5 MB of text) from a stream through the whole pipeline
 * to a forge upload stream; against mailparser's buffering mode (`simpleParser`) on the same file.
 *
 *   node --import tsx bench/big-mail.ts [--runs 5] [--smoke] [--only NAME]
 *
 * The mails are generated on the fly into a temp folder, removed at the end. Each measurement is
 * a fresh process running bench/big-mail-child.ts, bundled first with the Lambda's esbuild
 * settings and run on plain `node` (no TypeScript loader in the figures). The child prints its
 * peak RSS (`process.resourceUsage().maxRSS`) and heap and ArrayBuffer peaks sampled every 5 ms.
 * Kinds alternate, each figure is the median of `--runs`:
 *
 * - `postdesk`: `processMail` with the raw mail read from a file store (the stand-in for the S3
 *   body), in-memory state, and a forge whose `uploadFile` consumes the stream and counts bytes;
 *   it fails unless the mail became an issue and every attachment byte reached the forge.
 * - `simple` (the baseline): `simpleParser(createReadStream(file))`, which holds every
 *   attachment whole as a Buffer.
 * - `gitlab` (`big_mail_peak_rss_gitlab`): as `postdesk`, but the uploads go through the real
 *   GitLab adapter (multipart, streamed) over HTTP to the fake GitLab, which runs in this parent
 *   process so its own buffering is not counted; the bytes it received are checked.
 * - `idle-postdesk`, `idle-simple`: each side's modules imported, no mail: the floors, reported
 *   so the memory the mail itself costs can be read (`above_floor_mib`).
 *
 * `big_mail_peak_rss_attachment_only` and `big_mail_peak_rss_text_only` are diagnostics: 35 MB
 * that is nearly all attachment, and the 5 MB of text alone, to tell what the attachment path
 * costs from what the text costs.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { build } from 'esbuild';
import { bundleOptions } from '../scripts/build.ts';
import { startFakeGitLab } from '../test/support/fake-gitlab.ts';
import { ATTACHMENT_FILE, type ChildFigures } from './big-mail-child.ts';
import {
  type BenchArgs,
  type BigMailFile,
  type BigMailShape,
  emit,
  type Goal,
  isMain,
  median,
  parseBenchArgs,
  progress,
  ROOT,
  round,
  runProcess,
  wanted,
  writeBigMail,
} from './lib.ts';

export const NAME = 'big_mail_peak_rss';
export const GITLAB_NAME = 'big_mail_peak_rss_gitlab';
export const ATTACHMENT_ONLY_NAME = 'big_mail_peak_rss_attachment_only';
export const TEXT_ONLY_NAME = 'big_mail_peak_rss_text_only';

interface Case {
  name: string;
  shape: BigMailShape;
  smoke: BigMailShape;
  /** The child kind measured against `simple`. */
  kind: 'postdesk' | 'gitlab';
  goal?: Goal;
}

const SMOKE: BigMailShape = { attachmentEncodedBytes: 300_000, textBytes: 20_000 };
/** 35 MB: a 30 MB base64 attachment part (22 MB of random bytes decoded) and 5 MB of text. */
const ISSUE_MAIL: BigMailShape = { attachmentEncodedBytes: 30_000_000, textBytes: 5_000_000 };

const CASES: readonly Case[] = [
  {
    name: NAME,
    shape: ISSUE_MAIL,
    smoke: SMOKE,
    kind: 'postdesk',
    goal: { of: 'ratio', op: '<=', limit: 0.5 },
  },
  { name: GITLAB_NAME, shape: ISSUE_MAIL, smoke: SMOKE, kind: 'gitlab' },
  // Diagnostic: 35 MB that is all attachment (25.5 MB decoded) and a short text, to tell the
  // attachment path from the text path.
  {
    name: ATTACHMENT_ONLY_NAME,
    shape: { attachmentEncodedBytes: 34_930_000, textBytes: 4_000 },
    smoke: SMOKE,
    kind: 'postdesk',
  },
  // Diagnostic: the 5 MB of text alone (and a 1 KB attachment, so deliver still uploads).
  {
    name: TEXT_ONLY_NAME,
    shape: { attachmentEncodedBytes: 1_404, textBytes: 5_000_000 },
    smoke: SMOKE,
    kind: 'postdesk',
  },
];

/**
 * Bundles bench/big-mail-child.ts as the Lambda is bundled (scripts/build.ts settings, no source
 * map): the child then runs on plain `node`, without the TypeScript loader's own memory.
 */
const bundleChild = async (dir: string, aliases: boolean): Promise<string> => {
  const outfile = join(dir, aliases ? 'big-mail-child.mjs' : 'big-mail-child-plain.mjs');
  await build({
    ...bundleOptions(join(ROOT, 'bench/big-mail-child.ts'), outfile, { aliases, split: false }),
    sourcemap: false,
    metafile: false,
  });
  return outfile;
};

const runMeasurement = async (
  script: string,
  kind: string,
  extra: readonly string[],
): Promise<ChildFigures> => {
  const outcome = await runProcess(process.execPath, [script, `--child=${kind}`, ...extra]);
  const last = outcome.stdout.trim().split('\n').pop() ?? '';
  if (outcome.code !== 0 || last === '') {
    throw new Error(`big-mail child ${kind} exited ${outcome.code}: ${outcome.stderr.slice(-2000)}`);
  }
  return JSON.parse(last) as ChildFigures;
};

export const runBigMailBench = async (args: BenchArgs): Promise<void> => {
  const cases = CASES.filter((item) => wanted(args, item.name));
  if (cases.length === 0) return;
  const runs = args.runs ?? (args.smoke ? 1 : 5);
  const dir = mkdtempSync(join(tmpdir(), 'postdesk-bench-big-'));
  try {
    // The pipeline runs in the Lambda's bundle (with the charset stand-ins); simpleParser needs the
    // real iconv-lite it was written against, so the baseline gets a bundle without the aliases.
    const lambdaScript = await bundleChild(dir, true);
    const plainScript = await bundleChild(dir, false);
    const childScript = (kind: string): string => (kind.includes('simple') ? plainScript : lambdaScript);
    // Each side's floor: the same process with its modules imported and no mail.
    const idle = { postdesk: [] as number[], simple: [] as number[] };
    for (let run = 0; run < runs; run++) {
      idle.postdesk.push((await runMeasurement(childScript('idle-postdesk'), 'idle-postdesk', [])).rssMiB);
      idle.simple.push((await runMeasurement(childScript('idle-simple'), 'idle-simple', [])).rssMiB);
    }
    const floor = { postdesk: round(median(idle.postdesk)), simple: round(median(idle.simple)) };
    progress(
      `${NAME}: floors (modules imported, no mail): pipeline ${floor.postdesk} MiB, mailparser ${floor.simple} MiB peak RSS`,
    );

    // Cases on the same mail share its simpleParser runs.
    const mails = new Map<string, { mail: BigMailFile; simple: ChildFigures[] }>();
    for (const item of cases) {
      const shape = args.smoke ? item.smoke : item.shape;
      const key = JSON.stringify(shape);
      let entry = mails.get(key);
      if (entry === undefined) {
        entry = { mail: await writeBigMail(join(dir, `big-${mails.size}.eml`), shape), simple: [] };
        mails.set(key, entry);
      }
      const { mail } = entry;
      progress(
        `${item.name}: ${round(mail.bytes / 1e6)} MB mail (attachment ${round(mail.attachmentBytes / 1e6)} MB decoded, ` +
          `text ${round(mail.textBytes / 1e6, 2)} MB); ${runs} runs of ${item.kind} and simpleParser, alternating`,
      );
      const measured: ChildFigures[] = [];
      for (let run = 0; run < runs; run++) {
        const kinds = entry.simple.length > run ? [item.kind] : [item.kind, 'simple'];
        for (const kind of kinds) {
          // A fresh fake GitLab per run: it keeps what it receives, and this process stays small.
          const gitlab = kind === 'gitlab' ? await startFakeGitLab() : undefined;
          let child: ChildFigures;
          try {
            child = await runMeasurement(childScript(kind), kind, [
              mail.path,
              gitlab?.url ?? '',
              gitlab?.token ?? '',
            ]);
            if (gitlab) {
              // What reached the fake GitLab over the wire, not what the trace says was planned.
              child.uploads = Object.fromEntries(
                gitlab.uploads('acme/game').map((upload) => [upload.filename, upload.bytes.length]),
              );
              child.attachmentBytes = child.uploads[ATTACHMENT_FILE] ?? 0;
            }
          } finally {
            await gitlab?.close();
          }
          if (child.attachmentBytes !== mail.attachmentBytes) {
            throw new Error(
              `${kind}: ${child.attachmentBytes} attachment bytes, expected ${mail.attachmentBytes}`,
            );
          }
          (kind === 'simple' ? entry.simple : measured).push(child);
          progress(
            `${item.name}: run ${run + 1}/${runs} ${kind}: peak RSS ${child.rssMiB} MiB, heap ${child.heapPeakMiB} MiB, ` +
              `ArrayBuffers ${child.arrayBuffersPeakMiB} MiB, ${child.ms} ms`,
          );
        }
      }
      const med = (
        list: readonly ChildFigures[],
        key: 'rssMiB' | 'heapPeakMiB' | 'arrayBuffersPeakMiB' | 'ms',
      ) => round(median(list.map((child) => child[key])));
      const value = med(measured, 'rssMiB');
      const baseline = med(entry.simple, 'rssMiB');
      emit(
        {
          name: item.name,
          value,
          unit: `MiB peak RSS (median of ${runs} fresh processes)`,
          baseline,
          min: Math.min(...measured.map((child) => child.rssMiB)),
          max: Math.max(...measured.map((child) => child.rssMiB)),
          baseline_min: Math.min(...entry.simple.map((child) => child.rssMiB)),
          baseline_max: Math.max(...entry.simple.map((child) => child.rssMiB)),
          // The memory the mail itself costs: each side's floor (its modules, no mail) taken out.
          floor_mib: floor.postdesk,
          baseline_floor_mib: floor.simple,
          above_floor_mib: round(value - floor.postdesk),
          baseline_above_floor_mib: round(baseline - floor.simple),
          ratio_above_floor: round((value - floor.postdesk) / (baseline - floor.simple), 3),
          heap_peak_mib: med(measured, 'heapPeakMiB'),
          array_buffers_peak_mib: med(measured, 'arrayBuffersPeakMiB'),
          ms: med(measured, 'ms'),
          baseline_heap_peak_mib: med(entry.simple, 'heapPeakMiB'),
          baseline_array_buffers_peak_mib: med(entry.simple, 'arrayBuffersPeakMiB'),
          baseline_ms: med(entry.simple, 'ms'),
          mail_bytes: mail.bytes,
          attachment_bytes: mail.attachmentBytes,
          text_bytes: mail.textBytes,
          // Everything the forge received (a truncated description adds the raw mail as original.eml).
          uploads: measured[0]?.uploads,
        },
        item.goal,
      );
    }
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
};

if (isMain(import.meta.url)) {
  await runBigMailBench(parseBenchArgs());
}
