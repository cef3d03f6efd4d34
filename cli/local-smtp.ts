import { createHash, randomUUID } from 'node:crypto';
import { mkdir, open, readdir, rm } from 'node:fs/promises';
import type { AddressInfo } from 'node:net';
import { join } from 'node:path';
import {
  SMTPServer,
  type SMTPServerAddress,
  type SMTPServerDataStream,
  type SMTPServerSession,
} from 'smtp-server';
import type { Envelope } from '../core/model.ts';

/**
 * The local desk's SMTP receiver, standing in for SES's inbound endpoint: a real SMTP server
 * (nodemailer's smtp-server) on the loopback interface. What SES does before it says 250, this
 * does too:
 *
 * - recipients outside the desk (its domain and the projects' aliases) are refused at RCPT TO
 *   with 550, as a receipt rule that matches no recipient refuses them;
 * - the size limit (`limits.max_raw_bytes`) is advertised with SIZE (RFC 1870), refused at MAIL
 *   FROM when the client declares more, and enforced on the bytes received: over it, 552 and
 *   nothing is kept;
 * - the message is streamed to a temp file, never held in memory, and handed to `accept` only when
 *   it arrived whole (the final dot) and within the limit. `accept` stores it durably; only then
 *   is 250 sent, so a mail the client saw accepted is never lost. A storage failure answers 451,
 *   and the client tries again later.
 *
 * No authentication and no STARTTLS: it listens on 127.0.0.1 for a developer's own tools.
 */

export interface ReceivedMail {
  /** The whole message in a temp file; `accept` renames it into the store. */
  file: string;
  size: number;
  /** SHA-256 of the message bytes, hex. */
  sha256: string;
  envelope: Envelope;
  receivedAt: Date;
}

export interface SmtpReceiverOptions {
  /** @default '127.0.0.1' */
  host?: string | undefined;
  /** 0 picks a free port. @default 2525 */
  port?: number | undefined;
  /** Largest message accepted, bytes (`limits.max_raw_bytes`). */
  maxBytes: number;
  /** Where messages are streamed while they arrive (same file system as the store, for rename). */
  tempDir: string;
  /** True for an address the desk receives at. */
  isDeskAddress: (address: string) => boolean;
  /** Stores the mail durably and returns its id (used in the 250 reply). A throw answers 451. */
  accept: (mail: ReceivedMail) => Promise<string>;
  /** Told about every refused transaction, for the operator's log. */
  onRefused?: ((event: { code: number; reason: string; session: string }) => void) | undefined;
  /** The name in the greeting. @default 'postdesk.local' */
  name?: string | undefined;
  /** How long `close()` lets idle sessions linger before they get 421. @default 0 */
  idleGraceMs?: number | undefined;
  /** How long `close()` waits for messages still being transferred. @default 30000 */
  closeTimeoutMs?: number | undefined;
}

export interface SmtpReceiver {
  readonly host: string;
  readonly port: number;
  /** `smtp://127.0.0.1:2525` */
  readonly url: string;
  /**
   * Stops accepting connections, lets messages being transferred finish (and be stored and
   * answered), then closes the remaining sessions with 421 so their clients retry later.
   */
  close(): Promise<void>;
}

const DEFAULTS = { host: '127.0.0.1', port: 2525, name: 'postdesk.local', closeTimeoutMs: 30_000 } as const;

/** An error whose SMTP reply code smtp-server sends to the client. */
const smtpError = (responseCode: number, message: string): Error =>
  Object.assign(new Error(message), { responseCode });

/** `::ffff:127.0.0.1` is how an IPv4 client shows on a dual-stack socket; SPF wants the IPv4 form. */
const plainIp = (address: string): string => address.replace(/^::ffff:(?=\d+\.\d+\.\d+\.\d+$)/i, '');

const TEMP_PREFIX = 'smtp-';
const TEMP_SUFFIX = '.part';

/** Temp files left by a crash mid-transfer: never acknowledged, so the client still has the mail. */
export const removeLeftoverTempFiles = async (tempDir: string): Promise<number> => {
  let names: string[];
  try {
    names = await readdir(tempDir);
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') return 0;
    throw error;
  }
  const leftovers = names.filter((name) => name.startsWith(TEMP_PREFIX) && name.endsWith(TEMP_SUFFIX));
  await Promise.all(leftovers.map((name) => rm(join(tempDir, name), { force: true })));
  return leftovers.length;
};

type Received =
  | { kind: 'complete'; file: string; size: number; sha256: string }
  | { kind: 'too_large'; size: number };

/**
 * Streams the DATA to a temp file, hashing as it goes. Over the limit, writing stops, the rest is
 * read and discarded (the client is still sending) and the temp file is removed.
 */
const receiveToFile = async (
  stream: SMTPServerDataStream,
  tempDir: string,
  maxBytes: number,
): Promise<Received> => {
  const file = join(tempDir, `${TEMP_PREFIX}${randomUUID()}${TEMP_SUFFIX}`);
  const hash = createHash('sha256');
  const handle = await open(file, 'wx', 0o600);
  let size = 0;
  let over = false;
  let kept = false;
  try {
    for await (const chunk of stream as AsyncIterable<Buffer>) {
      size += chunk.length;
      if (over) continue;
      if (size > maxBytes || stream.sizeExceeded) {
        over = true;
        await handle.truncate(0);
        continue;
      }
      hash.update(chunk);
      await handle.write(chunk);
    }
    if (over || stream.sizeExceeded) return { kind: 'too_large', size: Math.max(size, stream.byteLength) };
    await handle.sync();
    kept = true;
    return { kind: 'complete', file, size, sha256: hash.digest('hex') };
  } finally {
    await handle.close();
    if (!kept) await rm(file, { force: true });
  }
};

export const startSmtpReceiver = async (options: SmtpReceiverOptions): Promise<SmtpReceiver> => {
  const host = options.host ?? DEFAULTS.host;
  const { maxBytes, tempDir } = options;
  await mkdir(tempDir, { recursive: true });
  await removeLeftoverTempFiles(tempDir);
  const inFlight = new Set<Promise<void>>();
  const refused = (code: number, reason: string, session: SMTPServerSession): void => {
    options.onRefused?.({ code, reason, session: session.id });
  };

  const handleData = async (
    stream: SMTPServerDataStream,
    session: SMTPServerSession,
    callback: (error?: Error | null, message?: string) => void,
  ): Promise<void> => {
    let received: Received;
    try {
      received = await receiveToFile(stream, tempDir, maxBytes);
    } catch (error) {
      // The client went away mid-message (it never saw a 250 and will send again), or the temp
      // file could not be written.
      if ((error as NodeJS.ErrnoException).code === 'ECONNECTION' || stream.destroyed) {
        callback(smtpError(451, '4.4.2 Connection lost before the message was complete'));
        return;
      }
      refused(451, `temp file: ${(error as Error).message}`, session);
      callback(smtpError(451, '4.3.0 Could not store the message right now; try again later'));
      return;
    }
    if (received.kind === 'too_large') {
      const reason = `message of ${received.size} bytes or more is over the limit of ${maxBytes} bytes (limits.max_raw_bytes)`;
      refused(552, reason, session);
      callback(smtpError(552, `5.3.4 Message too big: ${reason}; nothing was kept`));
      return;
    }
    const mailFrom = session.envelope.mailFrom;
    const helo = session.hostNameAppearsAs;
    const envelope: Envelope = {
      recipients: session.envelope.rcptTo.map((recipient) => recipient.address),
      // '' is the null reverse-path (a bounce): kept as '', as SES keeps it.
      mailFrom: mailFrom === false ? undefined : mailFrom.address,
      remoteIp: plainIp(session.remoteAddress),
      ...(typeof helo === 'string' && helo !== '' ? { helo } : {}),
    };
    try {
      const id = await options.accept({
        file: received.file,
        size: received.size,
        sha256: received.sha256,
        envelope,
        receivedAt: new Date(),
      });
      callback(null, `2.0.0 OK: queued as ${id}`);
    } catch (error) {
      refused(451, `storing the message failed: ${(error as Error).message}`, session);
      callback(smtpError(451, '4.3.0 Could not store the message right now; try again later'));
    } finally {
      await rm(received.file, { force: true });
    }
  };

  const server = new SMTPServer({
    name: options.name ?? DEFAULTS.name,
    banner: 'Postdesk local desk (the stand-in for SES); no authentication, loopback only',
    size: maxBytes,
    authOptional: true,
    disabledCommands: ['AUTH', 'STARTTLS'],
    // No reverse DNS: the desk works offline, and the name would not be believed anyway.
    disableReverseLookup: true,
    logger: false,
    closeTimeout: options.closeTimeoutMs ?? DEFAULTS.closeTimeoutMs,
    onRcptTo(
      address: SMTPServerAddress,
      session: SMTPServerSession,
      callback: (error?: Error | null) => void,
    ) {
      if (options.isDeskAddress(address.address)) {
        callback();
        return;
      }
      refused(550, `${address.address} is not a desk address`, session);
      callback(
        smtpError(
          550,
          `5.1.1 <${address.address}>: not a desk address (this desk receives mail for its domain and the projects' aliases)`,
        ),
      );
    },
    onData(stream, session, callback) {
      const running = handleData(stream, session, callback).catch((error: unknown) => {
        callback(smtpError(451, `4.3.0 ${(error as Error).message}`));
      });
      inFlight.add(running);
      void running.finally(() => inFlight.delete(running));
    },
  });

  await new Promise<void>((resolve, reject) => {
    const onError = (error: Error) => reject(error);
    server.once('error', onError);
    server.listen(options.port ?? DEFAULTS.port, host, () => {
      server.off('error', onError);
      resolve();
    });
  });
  // Errors of single connections (a client that resets) must not take the server down.
  server.on('error', () => undefined);
  const { port } = server.server.address() as AddressInfo;
  const shownHost = host.includes(':') ? `[${host}]` : host;

  let closing: Promise<void> | undefined;
  const close = async (): Promise<void> => {
    const closed = new Promise<void>((resolve) => server.close(() => resolve()));
    // Messages being transferred finish, are stored and get their 250.
    while (inFlight.size > 0) await Promise.allSettled([...inFlight]);
    if (options.idleGraceMs) await new Promise((resolve) => setTimeout(resolve, options.idleGraceMs));
    // Sessions between messages get 421 (RFC 5321 §3.8): their clients try again later.
    for (const connection of server.connections) {
      connection.send(421, `${options.name ?? DEFAULTS.name} Server shutting down, try again later`);
      connection.close();
    }
    await closed;
  };

  return {
    host,
    port,
    url: `smtp://${shownHost}:${port}`,
    close() {
      closing ??= close();
      return closing;
    },
  };
};
