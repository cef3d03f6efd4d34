import { createHash } from 'node:crypto';
import { mkdir, rename } from 'node:fs/promises';
import { isIP } from 'node:net';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { isFileForge } from '../../adapters/forges/file/index.ts';
import { ensureLocalSecret } from '../../adapters/local/secret-file.ts';
import type { VerdictResolver } from '../../adapters/local/verdicts.ts';
import { startWebhookServer } from '../../adapters/local/webhook-server.ts';
import type { DeskConfig } from '../../core/config/schema.ts';
import { deskAddressMatcher } from '../../core/desk-addresses.ts';
import { PermanentError } from '../../core/errors.ts';
import type { Envelope } from '../../core/model.ts';
import type { Logger } from '../../core/ports.ts';
import type { QuarantineEntry } from '../../core/state/quarantine.ts';
import { createConsole, isConsoleRequest } from '../console/console.ts';
import { createConsoleLogger } from '../console-logger.ts';
import { type Command, type CommandIo, dataDir, loadConfigOrDemo, writeJson, writeLine } from '../io.ts';
import { type ForgeChoice, rawKeyOf } from '../local-desk.ts';
import { openLocalQueue } from '../local-queue.ts';
import { type LocalRuntime, offlineResolver, openLocalRuntime } from '../local-runtime.ts';
import { type ReceivedMail, type SmtpReceiver, startSmtpReceiver } from '../local-smtp.ts';
import { teamReply } from '../local-team.ts';
import {
  createMailWorker,
  DEFAULT_CONCURRENCY,
  type MailWorker,
  type RetryPolicy,
  type WorkerEvent,
} from '../local-worker.ts';
import { localRebuild, runRelease } from '../quarantine-release.ts';
import { summarise } from './ingest.ts';

const usage = `Usage: postdesk serve [--port 2525] [--host 127.0.0.1] [--webhook-port 8025] [--config FILE] [--json]

Runs the local desk: an SMTP server in place of SES, .postdesk/ in place of the bucket, and the
file forge in .postdesk/forge/ (or GitLab, when the config names it and the secret has a
forge_token). With no config it runs the built-in demo desk (mail to support+demo@desk.localhost;
\`postdesk init\` writes that config to edit), and on its first run it creates the local secret.
Send mail to it with any mail client or script; each mail's outcome is printed as it happens.
The console, http://127.0.0.1:8025/ on the webhook listener, shows the tickets, their mail and
traces, quarantine and dead letters, and has a reply box (as \`postdesk reply\` does). Answers on
issues go out as .eml files in .postdesk/outbox/ through the webhook listener.

  --host ADDR          address to listen on (default 127.0.0.1; there is no authentication)
  --port N             SMTP port (default 2525; 0 picks a free port, which is printed)
  --webhook-port N     port of the webhook listener and the console (default 8025; 0: free)
  --config FILE        the desk config (default ./postdesk.config.yaml, or $POSTDESK_CONFIG)
  --data-dir DIR       local state (default ./.postdesk, or $POSTDESK_DATA_DIR)
  --forge KIND         auto (default), file or gitlab, as for ingest
  --concurrency N      mails processed at once (default ${DEFAULT_CONCURRENCY})
  --dns MODE           system (default): SPF/DKIM/DMARC look up real DNS; offline: no lookups,
                       those verdicts are temperror at once instead of after a timeout
  --verbose            log the pipeline's info records to stderr too
  --json               JSON lines on stdout: {"event":"listening",...}, one {"event":"mail",...}
                       per mail (the decision trace), retries, dead letters, {"event":"stopped"}

Mail is stored in .postdesk/mail/ and queued in .postdesk/queue/ before the SMTP server answers
250, so a mail it accepted is never lost: Ctrl+C (SIGINT) or SIGTERM stops accepting, lets mail
being received and mail being processed finish, and leaves the rest queued for the next start,
which processes it first. A mail that keeps failing (the forge is down) is retried with backoff,
then moved to .postdesk/dlq/: \`postdesk redrive\` puts it back.`;

/** How the local desk runs; everything has a default but the config and the data directory. */
export interface StartLocalDeskOptions {
  config: DeskConfig;
  dataDir: string;
  env?: NodeJS.ProcessEnv | undefined;
  forge?: ForgeChoice | undefined;
  /** @default '127.0.0.1' */
  host?: string | undefined;
  /** SMTP port; 0 picks a free one. @default 2525 */
  port?: number | undefined;
  /** Webhook listener port; 0 picks a free one. @default 8025 */
  webhookPort?: number | undefined;
  /** @default DEFAULT_CONCURRENCY (2) */
  concurrency?: number | undefined;
  retry?: Partial<RetryPolicy> | undefined;
  /** DNS for the local verdicts. @default real DNS */
  resolver?: VerdictResolver | undefined;
  logger?: Logger | undefined;
  /** Every accepted or refused mail, and every run's end. */
  onEvent?: ((event: LocalDeskEvent) => void) | undefined;
  /** Accept and queue mail, process none (it waits in `queue/` for a later start). @default false */
  paused?: boolean | undefined;
  /** How long `close()` waits for running pipeline runs before leaving them queued. @default 30000 */
  drainTimeoutMs?: number | undefined;
}

export type LocalDeskEvent =
  | { kind: 'accepted'; id: string; envelope: Envelope; size: number }
  | { kind: 'refused'; code: number; reason: string }
  | WorkerEvent;

export interface LocalDeskHandle {
  smtpPort: number;
  webhookPort: number;
  /** `smtp://127.0.0.1:2525` */
  smtpUrl: string;
  /** `http://127.0.0.1:8025` */
  webhookUrl: string;
  /** The console, `http://127.0.0.1:8025/`: the same listener as the webhook. */
  consoleUrl: string;
  /** The local secret, and whether this start created it (none existed). */
  secret: { created: boolean; path: string };
  /** Which forge receives issues, for people. */
  forgeDescription: string;
  /** Where outbound mail lands. */
  outboxDir: string;
  /** Mails found in `queue/` at start (processed before new ones). */
  leftover: number;
  /** Resolves when the queue is empty: nothing waiting, running or waiting for a retry. */
  idle(): Promise<void>;
  /**
   * Stops accepting mail (sessions mid-message finish and get their answer), lets running pipeline
   * runs finish (up to `drainTimeoutMs`), closes the webhook listener. Queued mail stays queued.
   */
  close(): Promise<void>;
}

/**
 * The id of a mail received by SMTP: a hash of the bytes and the envelope. A client that resends a
 * mail it saw no 250 for makes the same id (the ledger then delivers it once); the same bytes sent
 * to other recipients in another transaction make another id, so neither overwrites the other.
 */
export const smtpMailId = (sha256: string, envelope: Envelope): string => {
  const recipients = [...new Set(envelope.recipients.map((address) => address.toLowerCase()))].sort();
  const digest = createHash('sha256')
    .update(`${sha256}\n${envelope.mailFrom ?? ''}\n${recipients.join('\n')}`)
    .digest('hex');
  return `local-${digest.slice(0, 32)}`;
};

/** The temp folder for mail being received (same file system as mail/, so rename is atomic). */
export const smtpTempDir = (dataDir: string): string => join(dataDir, 'tmp');

export const startLocalDesk = async (options: StartLocalDeskOptions): Promise<LocalDeskHandle> => {
  const emit = (event: LocalDeskEvent): void => options.onEvent?.(event);
  // Reply tokens and the webhook need a secret from the first mail on; one that exists is kept.
  const secret = await ensureLocalSecret({ dataDir: options.dataDir, env: options.env });
  const runtime = await openLocalRuntime({
    config: options.config,
    dataDir: options.dataDir,
    env: options.env,
    forge: options.forge,
    logger: options.logger,
    resolver: options.resolver,
  });
  const { queue, desk } = runtime;
  const worker = createMailWorker({
    queue,
    run: runtime.runQueued,
    concurrency: options.concurrency,
    retry: options.retry,
    paused: options.paused,
    onEvent: emit,
  });

  // Mail accepted before the last stop goes first.
  const { entries: leftovers } = await queue.list();
  for (const entry of leftovers) worker.push(entry);

  const accept = async (mail: ReceivedMail): Promise<string> => {
    const id = smtpMailId(mail.sha256, mail.envelope);
    const rawKey = rawKeyOf(id);
    await mkdir(desk.paths.mail, { recursive: true });
    await rename(mail.file, join(desk.paths.mail, rawKey));
    const entry = await queue.put({
      version: 1,
      id,
      rawKey,
      envelope: mail.envelope,
      receivedAt: mail.receivedAt.toISOString(),
      size: mail.size,
      attempts: 0,
    });
    emit({ kind: 'accepted', id, envelope: mail.envelope, size: mail.size });
    worker.push(entry);
    return id;
  };

  // The console answers on the webhook's listener; the hosts it accepts are known once it listens.
  let consoleHosts: string[] = [];
  const deskConsole = openDeskConsole(runtime, worker, options, () => consoleHosts);

  let smtp: SmtpReceiver;
  try {
    smtp = await startSmtpReceiver({
      host: options.host,
      port: options.port,
      maxBytes: options.config.limits.max_raw_bytes,
      tempDir: smtpTempDir(options.dataDir),
      isDeskAddress: deskAddressMatcher(options.config),
      accept,
      onRefused: ({ code, reason }) => emit({ kind: 'refused', code, reason }),
    });
  } catch (error) {
    await worker.stop(options.drainTimeoutMs);
    throw error;
  }
  let webhook: Awaited<ReturnType<typeof startWebhookServer>>;
  try {
    webhook = await startWebhookServer({
      host: options.host ?? '127.0.0.1',
      port: options.webhookPort ?? 8025,
      handle: runtime.handleWebhook,
      before: deskConsole.handle,
      // The webhook's token is checked before its body is read; the console's pages are not the webhook's.
      screen: (head) =>
        isConsoleRequest(head) ? Promise.resolve(undefined) : runtime.handleWebhook.screen(head),
    });
  } catch (error) {
    await smtp.close();
    await worker.stop(options.drainTimeoutMs);
    throw error;
  }

  consoleHosts = consoleHostsFor(options.host ?? '127.0.0.1', webhook.port);

  let closing: Promise<void> | undefined;
  return {
    smtpPort: smtp.port,
    webhookPort: webhook.port,
    smtpUrl: smtp.url,
    webhookUrl: webhook.url,
    consoleUrl: `${webhook.url}/`,
    secret,
    forgeDescription: desk.forgeDescription,
    outboxDir: runtime.outboxDir,
    leftover: leftovers.length,
    idle: () => worker.idle(),
    close() {
      closing ??= (async () => {
        // SMTP first: mail mid-transfer is stored and queued while the worker still takes it.
        await smtp.close();
        await worker.stop(options.drainTimeoutMs);
        await webhook.close();
      })();
      return closing;
    },
  };
};

/**
 * The `host:port` values the console answers to: the loopback address it listens on and its other
 * loopback names. None when the desk listens beyond loopback: the console has no login, so it is
 * never served to the network.
 */
export const consoleHostsFor = (host: string, port: number): string[] => {
  if (!isLoopback(host)) return [];
  const shown = host.includes(':') ? `[${host}]` : host;
  return [...new Set([shown, '127.0.0.1', 'localhost', '[::1]'])].map(
    (name) => `${name.toLowerCase()}:${port}`,
  );
};

const openDeskConsole = (
  runtime: LocalRuntime,
  worker: MailWorker,
  options: StartLocalDeskOptions,
  hosts: () => string[],
) => {
  const { desk } = runtime;
  const forge = isFileForge(desk.deps.forge) ? desk.deps.forge : undefined;
  const { quarantine } = desk.state;
  return createConsole({
    config: options.config,
    forge,
    tickets: desk.state.tickets,
    dataDir: options.dataDir,
    outboxDir: runtime.outboxDir,
    allowedHosts: hosts,
    reply: async (input) => {
      if (!forge) throw new PermanentError('forge_not_file', 'the console answers on the file forge only');
      return teamReply(
        { config: options.config, forge, secrets: desk.secrets, handleWebhook: runtime.handleWebhook },
        input,
      );
    },
    listQuarantine: async () => {
      const entries: QuarantineEntry[] = [];
      for await (const entry of quarantine.list({ includeReleased: true })) entries.push(entry);
      return entries;
    },
    release: (id) =>
      runRelease(
        { deps: runtime.deps, store: runtime.desk.store },
        id,
        localRebuild(runtime, options.resolver),
      ),
    listDead: async () => (await runtime.queue.listDead()).entries,
    redrive: async (id) => {
      const moved = await runtime.queue.redrive(id);
      if (moved) worker.push(moved);
      return moved !== undefined;
    },
  });
};

// --- the command ---------------------------------------------------------------------------------

export const isLoopback = (host: string): boolean =>
  host === 'localhost' || host === '::1' || (isIP(host) === 4 && host.startsWith('127.'));

const time = (): string => new Date().toTimeString().slice(0, 8);

const printEvent = (io: CommandIo, json: boolean, event: LocalDeskEvent): void => {
  if (json) {
    switch (event.kind) {
      case 'done':
        writeJson(io.stdout, { event: 'mail', id: event.entry.id, ...event.run.trace, dns: event.run.dns });
        return;
      case 'accepted':
        writeJson(io.stdout, {
          event: 'accepted',
          id: event.id,
          size: event.size,
          recipients: event.envelope.recipients,
        });
        return;
      case 'refused':
        writeJson(io.stdout, { event: 'refused', code: event.code, reason: event.reason });
        return;
      case 'retry':
        writeJson(io.stdout, {
          event: 'retry',
          id: event.entry.id,
          attempt: event.attempt,
          attempts: event.attempts,
          delayMs: event.delayMs,
          error: event.error,
        });
        return;
      case 'dead_letter':
        writeJson(io.stdout, {
          event: 'dead_letter',
          id: event.entry.id,
          attempts: event.attempts,
          error: event.error,
        });
        return;
      case 'store_error':
        writeJson(io.stdout, { event: 'store_error', id: event.entry.id, error: event.error });
        return;
    }
  }
  switch (event.kind) {
    case 'done': {
      const { trace, dns } = event.run;
      const who = trace.mail.from ?? event.entry.envelope.mailFrom ?? '(no sender)';
      const subject = trace.mail.subject === undefined ? '' : ` ${JSON.stringify(trace.mail.subject)}`;
      const offline =
        dns.failed > 0 ? ` [DNS unavailable (${dns.codes.join(', ')}): SPF/DKIM/DMARC temperror]` : '';
      writeLine(io.stdout, `${time()} ${who}${subject}: ${summarise(trace)}${offline}`);
      return;
    }
    case 'accepted':
      return;
    case 'refused':
      writeLine(io.stdout, `${time()} refused (${event.code}): ${event.reason}`);
      return;
    case 'retry':
      writeLine(
        io.stdout,
        `${time()} ${event.entry.id}: failed (attempt ${event.attempt}/${event.attempts}), retrying in ${Math.ceil(event.delayMs / 1000)}s: ${event.error.message}`,
      );
      return;
    case 'dead_letter':
      writeLine(
        io.stdout,
        `${time()} ${event.entry.id}: FAILED ${event.attempts} times, moved to dlq/ (\`postdesk redrive\` retries it): ${event.error.message}`,
      );
      return;
    case 'store_error':
      writeLine(
        io.stderr,
        `${time()} ${event.entry.id}: the queue folder failed (${event.error.message}); it stays queued`,
      );
      return;
  }
};

const parsePort = (value: string | undefined, name: string, fallback: number): number | string => {
  if (value === undefined) return fallback;
  const port = Number(value);
  return Number.isInteger(port) && port >= 0 && port <= 65_535
    ? port
    : `${name} must be a port number (0-65535), not "${value}"`;
};

/** Waits for SIGINT or SIGTERM; a second one stops at once (queued mail stays queued). */
const processSignals = (io: CommandIo): { stopped: Promise<string>; dispose(): void } => {
  let count = 0;
  let resolveStop: (signal: string) => void = () => undefined;
  const stopped = new Promise<string>((resolve) => {
    resolveStop = resolve;
  });
  const onSignal = (signal: NodeJS.Signals): void => {
    count += 1;
    if (count === 1) resolveStop(signal);
    else {
      writeLine(io.stderr, 'stopping now; mail not yet processed stays in queue/ for the next start');
      process.exit(130);
    }
  };
  process.on('SIGINT', onSignal);
  process.on('SIGTERM', onSignal);
  return {
    stopped,
    dispose() {
      process.off('SIGINT', onSignal);
      process.off('SIGTERM', onSignal);
    },
  };
};

/** `serve` until `stop` resolves; the command passes the process signals, tests a promise of their own. */
export const runServe = async (argv: string[], io: CommandIo, stop: Promise<unknown>): Promise<number> => {
  const { values } = parseArgs({
    args: argv,
    options: {
      config: { type: 'string' },
      'data-dir': { type: 'string' },
      host: { type: 'string', default: '127.0.0.1' },
      port: { type: 'string' },
      'webhook-port': { type: 'string' },
      forge: { type: 'string', default: 'auto' },
      concurrency: { type: 'string' },
      dns: { type: 'string', default: 'system' },
      verbose: { type: 'boolean', default: false },
      json: { type: 'boolean', default: false },
    },
  });
  const fail = (message: string): number => {
    writeLine(io.stderr, `postdesk serve: ${message}`);
    return 2;
  };
  const port = parsePort(values.port, '--port', 2525);
  if (typeof port === 'string') return fail(port);
  const webhookPort = parsePort(values['webhook-port'], '--webhook-port', 8025);
  if (typeof webhookPort === 'string') return fail(webhookPort);
  const concurrency = values.concurrency === undefined ? DEFAULT_CONCURRENCY : Number(values.concurrency);
  if (!Number.isInteger(concurrency) || concurrency < 1)
    return fail('--concurrency must be a whole number, 1 or more');
  const forge = values.forge as ForgeChoice;
  if (!['auto', 'file', 'gitlab'].includes(forge))
    return fail(`--forge must be auto, file or gitlab, not "${values.forge}"`);
  if (values.dns !== 'system' && values.dns !== 'offline')
    return fail(`--dns must be system or offline, not "${values.dns}"`);

  const json = values.json;
  const loaded = await loadConfigOrDemo(values.config, io);
  const { config } = loaded;
  const directory = dataDir(values['data-dir'], io);
  const logger = createConsoleLogger(io.stderr, { json, level: values.verbose ? 'info' : 'warn' });
  const host = values.host;
  let desk: LocalDeskHandle;
  try {
    desk = await startLocalDesk({
      config,
      dataDir: directory,
      env: io.env,
      forge,
      host,
      port,
      webhookPort,
      concurrency,
      resolver: values.dns === 'offline' ? offlineResolver : undefined,
      logger,
      onEvent: (event) => printEvent(io, json, event),
    });
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code;
    if (code === 'EADDRINUSE' || code === 'EACCES') {
      writeLine(
        io.stderr,
        `postdesk serve: cannot listen on ${host} (${code === 'EADDRINUSE' ? 'a port is already in use: another postdesk serve?' : 'permission denied'}); pass --port and --webhook-port, or 0 for free ones`,
      );
      return 1;
    }
    throw error;
  }

  const first = config.projects[0];
  const example = `${config.mailbox}+${first?.key ?? 'KEY'}@${config.domain}`;
  if (json) {
    writeJson(io.stdout, {
      event: 'listening',
      smtp: desk.smtpUrl,
      smtpPort: desk.smtpPort,
      webhook: desk.webhookUrl,
      webhookPort: desk.webhookPort,
      example,
      forge: desk.forgeDescription,
      outbox: desk.outboxDir,
      dataDir: directory,
      leftover: desk.leftover,
      demoConfig: loaded.demo,
      secretCreated: desk.secret.created,
      console: desk.consoleUrl,
    });
  } else {
    writeLine(io.stdout, 'Postdesk local desk');
    if (loaded.demo) {
      writeLine(
        io.stdout,
        `  config         the built-in demo desk (no ${loaded.path}); \`postdesk init\` writes it there to make your own`,
      );
    }
    if (desk.secret.created) {
      writeLine(
        io.stdout,
        `  secret         created ${desk.secret.path} with a random webhook_token and reply_key (\`postdesk secret show\`)`,
      );
    }
    writeLine(io.stdout, `  send mail to   ${desk.smtpUrl}   e.g. To: ${example}`);
    writeLine(
      io.stdout,
      isLoopback(host)
        ? `  console        ${desk.consoleUrl}`
        : '  console        off (it is served only when the desk listens on loopback)',
    );
    writeLine(io.stdout, `  issues go to   ${desk.forgeDescription}`);
    writeLine(
      io.stdout,
      `  webhook        ${desk.webhookUrl}  (GitLab note events, X-Gitlab-Token = webhook_token)`,
    );
    writeLine(io.stdout, `  outbound mail  ${desk.outboxDir}`);
    writeLine(io.stdout, `  state          ${directory}`);
    if (desk.leftover > 0) {
      writeLine(
        io.stdout,
        `  ${desk.leftover} mail${desk.leftover === 1 ? '' : 's'} left queued by the last run: processing first`,
      );
    }
    writeLine(io.stdout, 'Ctrl+C stops (accepted mail is never lost).');
  }
  if (!isLoopback(host)) {
    logger.warn(`listening on ${host} without authentication: anyone who can reach it can open issues`);
  }

  await stop;
  if (!json) writeLine(io.stdout, 'stopping: no new mail is accepted; finishing the mail under way...');
  await desk.close();
  const left = await openLocalQueue(directory).list();
  const entries = left.entries.length + left.unreadable.length;
  if (json) writeJson(io.stdout, { event: 'stopped', queued: entries });
  else {
    writeLine(
      io.stdout,
      entries === 0
        ? 'stopped; the queue is empty'
        : `stopped; ${entries} mail${entries === 1 ? '' : 's'} left in queue/ for the next start`,
    );
  }
  return 0;
};

export const serveCommand: Command = {
  name: 'serve',
  summary: 'run the local desk: SMTP on 127.0.0.1:2525 into the forge (npm start)',
  usage,
  async run(argv: string[], io: CommandIo): Promise<number> {
    const signals = processSignals(io);
    try {
      return await runServe(argv, io, signals.stopped);
    } finally {
      signals.dispose();
    }
  },
};
