import { promises as dns } from 'node:dns';
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import * as z from 'zod';
import { isFileForge } from '../adapters/forges/file/index.ts';
import { OutboxMailer } from '../adapters/local/outbox-mailer.ts';
import { computeLocalVerdicts, type VerdictResolver } from '../adapters/local/verdicts.ts';
import type { DeskConfig, Limits } from '../core/config/schema.ts';
import type { Envelope, InboundMail, ReceiptVerdicts } from '../core/model.ts';
import { NO_RECEIPT_VERDICTS } from '../core/model.ts';
import { createNotifier } from '../core/outbound/notify.ts';
import { createOnDelivered } from '../core/outbound/on-delivered.ts';
import { createInlineNotifyQueue } from '../core/outbound/queue.ts';
import { createWebhookHandler, type WebhookHandler } from '../core/outbound/webhook.ts';
import { type PipelineDeps, processMail } from '../core/pipeline.ts';
import { type Logger, type ObjectStore, silentLogger } from '../core/ports.ts';
import { type Ledger, LedgerEntrySchema } from '../core/state/ledger.ts';
import { type Quarantine, quarantineIdFor } from '../core/state/quarantine.ts';
import type { DecisionTrace } from '../core/trace.ts';
import { type ForgeChoice, type LocalDesk, openLocalDesk } from './local-desk.ts';
import { envelopeOf, type LocalQueue, openLocalQueue, type QueueEntry } from './local-queue.ts';
import { saveTrace } from './local-traces.ts';
import { withStages } from './local-worker.ts';

/**
 * The local desk with everything wired: the pipeline on files (cli/local-desk.ts), the outbound
 * half (thank-you and note mail to `.postdesk/outbox/`, the webhook handler), the file queue, and
 * the one function that runs a queued mail: verdicts computed locally, then the pipeline. Shared by
 * `serve`, `redrive` and `quarantine release`, so a mail runs the same way whichever started it.
 */

export interface LocalRuntimeOptions {
  config: DeskConfig;
  dataDir: string;
  env?: NodeJS.ProcessEnv | undefined;
  forge?: ForgeChoice | undefined;
  logger?: Logger | undefined;
  /**
   * DNS for SPF/DKIM/DMARC/ARC. A failed lookup makes that verdict `temperror`
   * (PROCESSING_FAILED), and the run result says how many lookups failed.
   * @default real DNS (`node:dns`)
   */
  resolver?: VerdictResolver | undefined;
}

/** What DNS did for one mail's verdicts. */
export interface DnsReport {
  lookups: number;
  failed: number;
  /** Error codes of the failed lookups (ENOTFOUND and ENODATA are answers, not failures). */
  codes: string[];
}

export interface QueuedRun {
  trace: DecisionTrace;
  dns: DnsReport;
}

export interface LocalRuntime {
  desk: LocalDesk;
  /** The pipeline's dependencies, outbound hook included. */
  deps: PipelineDeps;
  queue: LocalQueue;
  /** The webhook core (GitLab note events, unsubscribe links), for the loopback listener. */
  handleWebhook: WebhookHandler;
  /** Where outbound mail is written. */
  outboxDir: string;
  /** Runs one queued mail through verdicts and the pipeline. Throws only what should be retried. */
  runQueued(entry: QueueEntry): Promise<QueuedRun>;
}

/** Lookups that fail for a reason other than "no such record": the network, a timeout, a SERVFAIL. */
const ANSWERS = new Set(['ENOTFOUND', 'ENODATA']);

/** Wraps the resolver to count what failed, so a person can tell "offline" from "not signed". */
const recordingResolver = (resolver: VerdictResolver | undefined) => {
  const report: DnsReport = { lookups: 0, failed: 0, codes: [] };
  const base: VerdictResolver = resolver ?? ((name, rrtype) => dns.resolve(name, rrtype));
  const wrapped: VerdictResolver = async (name, rrtype) => {
    report.lookups += 1;
    try {
      return await base(name, rrtype);
    } catch (error) {
      const code = (error as NodeJS.ErrnoException).code ?? 'error';
      if (!ANSWERS.has(code)) {
        report.failed += 1;
        if (!report.codes.includes(code)) report.codes.push(code);
      }
      throw error;
    }
  };
  return { resolver: wrapped, report };
};

/** A resolver that answers nothing: `serve --dns offline`, so nothing waits for a timeout. */
export const offlineResolver: VerdictResolver = async (name) => {
  throw Object.assign(new Error(`DNS is off (--dns offline): ${name} not looked up`), { code: 'ETIMEOUT' });
};

// --- the envelope of quarantined mail -----------------------------------------------------------

/**
 * The SMTP envelope of a quarantined mail, kept beside the quarantine entry (the trace does not
 * hold it): a release then routes by the real RCPT TO (Bcc included) and checks SPF against the
 * real client, as the first run did. Local only; in AWS the trace's routes stand in.
 */
const EnvelopeRecordSchema = z.object({
  recipients: z.array(z.string()),
  mailFrom: z.string().optional(),
  remoteIp: z.string().optional(),
  helo: z.string().optional(),
});

const envelopeKey = (mailId: string): string => `envelopes/${quarantineIdFor(mailId)}.json`;

export const saveEnvelope = async (store: ObjectStore, mailId: string, envelope: Envelope): Promise<void> => {
  await store.put(envelopeKey(mailId), JSON.stringify(envelope));
};

export const loadEnvelope = async (store: ObjectStore, mailId: string): Promise<Envelope | undefined> => {
  const stored = await store.get(envelopeKey(mailId));
  if (!stored) return undefined;
  let raw: unknown;
  try {
    raw = JSON.parse(stored.body);
  } catch {
    return undefined;
  }
  const parsed = EnvelopeRecordSchema.safeParse(raw);
  return parsed.success ? envelopeOf({ envelope: parsed.data }) : undefined;
};

// --- verdicts ------------------------------------------------------------------------------------

/** Verdicts for a raw mail on disk; a mail that is gone gets none (the load stage quarantines it). */
export const localVerdicts = async (
  rawPath: string,
  envelope: Envelope,
  resolver: VerdictResolver | undefined,
  limits?: Limits,
): Promise<{ verdicts: ReceiptVerdicts; dns: DnsReport }> => {
  const recording = recordingResolver(resolver);
  let raw: Buffer;
  try {
    raw = await readFile(rawPath);
  } catch {
    return { verdicts: NO_RECEIPT_VERDICTS, dns: recording.report };
  }
  const verdicts = await computeLocalVerdicts(raw, envelope, { resolver: recording.resolver, limits });
  return { verdicts, dns: recording.report };
};

/** Puts what DNS did into the trace's authenticate stage, so the trace says why a verdict is temperror. */
export const annotateDns = (trace: DecisionTrace, dns: DnsReport): DecisionTrace => {
  if (dns.failed === 0) return trace;
  const note = `${dns.failed} of ${dns.lookups} DNS lookups failed (${dns.codes.join(', ')}): SPF/DKIM/DMARC that needed them are temperror (PROCESSING_FAILED), as SES reports a DNS failure`;
  return {
    ...trace,
    stages: trace.stages.map((stage) =>
      stage.stage === 'authenticate' ? { ...stage, detail: { ...stage.detail, dns: note } } : stage,
    ),
  };
};

/** The stored quarantine entry gets the annotated trace too: `quarantine show` is where it is read. */
const annotateQuarantined = async (
  quarantine: Quarantine,
  mailId: string,
  trace: DecisionTrace,
): Promise<void> => {
  const entry = await quarantine.get(quarantineIdFor(mailId));
  if (!entry) return;
  await quarantine.put({
    id: entry.id,
    mailId: entry.mailId,
    rawKey: entry.rawKey,
    reason: entry.reason,
    message: entry.message,
    trace,
    createdAt: entry.createdAt,
  });
};

// --- a failed attempt ----------------------------------------------------------------------------

/**
 * The pipeline says which stages a run reached only in its "transient failure" log record; this
 * logger passes every record on and keeps those stages, so a retried or dead-lettered mail keeps
 * its trace so far (load, parse, ... the stage that failed) beside its error.
 */
const stagesOfFailure = (base: Logger, mailId: string): { logger: Logger; stages: () => unknown[] } => {
  let stages: unknown[] = [];
  const logger: Logger = {
    debug: (message, fields) => base.debug(message, fields),
    info: (message, fields) => base.info(message, fields),
    warn(message, fields) {
      if (fields?.['mailId'] === mailId && Array.isArray(fields['stages'])) stages = [...fields['stages']];
      base.warn(message, fields);
    },
    error: (message, fields) => base.error(message, fields),
  };
  return { logger, stages: () => stages };
};

/**
 * Gives back the delivery leases a failed attempt of this mail left behind, so a retry,
 * `postdesk redrive` or `postdesk quarantine release` proceeds at once instead of waiting out the
 * lease (5 minutes). The deliver stage keeps a lease when the forge call itself failed, because a
 * remote forge may still be doing it and its search may not show the marker yet; neither holds for
 * the file forge: its call ran in this process and is over, and the marker search reads the files
 * themselves, so a retry that takes the entry over finds what the attempt made. Only entries this
 * attempt started or took over (started at or after it) are touched.
 */
const releaseLeftLeases = async (
  store: ObjectStore,
  config: DeskConfig,
  mailId: string,
  started: Date,
  ledger: Ledger,
): Promise<void> => {
  for (const project of config.projects) {
    try {
      const key = ledger.key(mailId, project.key);
      const stored = await store.get(key);
      if (!stored) continue;
      const parsed = LedgerEntrySchema.safeParse(JSON.parse(stored.body));
      if (!parsed.success) continue;
      const entry = parsed.data;
      if (entry.state !== 'pending' || entry.releasedAt !== undefined) continue;
      if (!(Date.parse(entry.startedAt) >= started.getTime())) continue;
      await ledger.release({ key, etag: stored.etag, entry });
    } catch {
      // Best effort, as the deliver stage's own release: the lease still expires on its own.
    }
  }
};

// --- the runtime ---------------------------------------------------------------------------------

export const openLocalRuntime = async (options: LocalRuntimeOptions): Promise<LocalRuntime> => {
  const logger = options.logger ?? silentLogger;
  const desk = await openLocalDesk({
    config: options.config,
    dataDir: options.dataDir,
    env: options.env,
    forge: options.forge,
    logger,
  });
  const { config, forge, secrets, clock } = desk.deps;
  const { store, state } = desk;

  // Outbound: the same core as the notify and webhook functions, with the outbox for SES and an
  // in-process queue for SQS.
  const mailer = new OutboxMailer({ dataDir: options.dataDir, clock });
  const notify = createInlineNotifyQueue(
    createNotifier({ config, state, forge, mailer, secrets, clock, logger }),
    logger,
  );
  const onDelivered = createOnDelivered({ config, state, queue: notify, clock, logger });
  const handleWebhook = createWebhookHandler({ config, secrets, state, queue: notify, logger, clock });
  const deps: PipelineDeps = { ...desk.deps, onDelivered };
  const queue = openLocalQueue(options.dataDir);

  const runQueued = async (entry: QueueEntry): Promise<QueuedRun> => {
    const envelope = envelopeOf(entry);
    const { verdicts, dns } = await localVerdicts(
      join(desk.paths.mail, entry.rawKey),
      envelope,
      options.resolver,
      config.limits,
    );
    const mail: InboundMail = {
      id: entry.id,
      rawKey: entry.rawKey,
      envelope,
      verdicts,
      receivedAt: new Date(entry.receivedAt),
    };
    const started = clock.now();
    const failure = stagesOfFailure(deps.logger, mail.id);
    let trace: DecisionTrace;
    try {
      trace = annotateDns(await processMail(mail, { ...deps, logger: failure.logger }), dns);
    } catch (error) {
      if (isFileForge(forge)) await releaseLeftLeases(store, config, mail.id, started, state.ledger);
      throw withStages(error, failure.stages());
    }
    // A project that ended in quarantine may have left its lease, whatever the others did.
    if (isFileForge(forge)) await releaseLeftLeases(store, config, mail.id, started, state.ledger);
    if (trace.outcome === 'quarantined') {
      await saveEnvelope(store, mail.id, envelope);
      if (dns.failed > 0) await annotateQuarantined(state.quarantine, mail.id, trace);
    }
    await saveTrace(options.dataDir, trace);
    return { trace, dns };
  };

  return { desk, deps, queue, handleWebhook, outboxDir: mailer.directory, runQueued };
};
