import { mkdtemp, readdir, writeFile } from 'node:fs/promises';
import { connect } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import nodemailer from 'nodemailer';
import { parseConfig } from '../../core/config/parse.ts';
import type { DeskConfig } from '../../core/config/schema.ts';

/** Helpers for tests that drive the local desk over real SMTP on 127.0.0.1. */

export const DESK = 'desk.example.com';
export const CUSTOMER = 'ada@customer.example';

/** A desk config for local tests: the file forge, no verdicts required (nothing scans locally). */
export const localConfigText = (
  extra: { maxRawBytes?: number; forge?: string } = {},
): string => `domain: ${DESK}
mailbox: support
forge: ${extra.forge ?? '{ kind: file }'}
authentication: { require: [] }
limits: { max_raw_bytes: ${extra.maxRawBytes ?? 200_000} }
projects:
  - path: acme/game
    key: game
`;

export const localConfig = (extra: { maxRawBytes?: number; forge?: string } = {}): DeskConfig =>
  parseConfig(localConfigText(extra), 'test.yaml');

export const tempDir = (prefix: string): Promise<string> => mkdtemp(join(tmpdir(), `postdesk-${prefix}-`));

/** A cwd with `postdesk.config.yaml`, for in-process command tests. */
export const tempWorkspace = async (prefix: string, config = localConfigText()): Promise<string> => {
  const cwd = await tempDir(prefix);
  await writeFile(join(cwd, 'postdesk.config.yaml'), config);
  return cwd;
};

/** DNS that answers nothing at once, as a machine without network does (temperror verdicts). */
export const noDns = async (name: string): Promise<never> => {
  throw Object.assign(new Error(`offline: ${name}`), { code: 'ECONNREFUSED' });
};

/** nodemailer as the SMTP client, plain text on loopback. */
export const smtpClient = (port: number) =>
  nodemailer.createTransport({ host: '127.0.0.1', port, secure: false, ignoreTLS: true });

/** Files in a folder (none when it does not exist), dot files included. */
export const filesIn = async (dir: string): Promise<string[]> => {
  try {
    return (await readdir(dir)).sort();
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') return [];
    throw error;
  }
};

/**
 * A raw SMTP conversation, returning the greeting and one reply per command: for what a library
 * client would not do (send DATA without declaring SIZE, say). The message goes as one command, its
 * text followed by the final `.` line.
 */
export const rawSmtp = async (port: number, commands: readonly string[]): Promise<string[]> => {
  const socket = connect(port, '127.0.0.1');
  socket.setEncoding('utf8');
  const replies: string[] = [];
  let buffer = '';
  let wake: (() => void) | undefined;
  socket.on('data', (chunk: string) => {
    buffer += chunk;
    wake?.();
  });
  const closed = new Promise<void>((resolve) => socket.on('close', () => resolve()));
  /** The next complete reply (the last line of a multi-line reply has a space after the code). */
  const nextReply = async (): Promise<string> => {
    for (;;) {
      const match = /^(\d{3}) .*\r\n/m.exec(buffer);
      if (match) {
        const end = (match.index ?? 0) + match[0].length;
        const reply = buffer.slice(0, end).trim();
        buffer = buffer.slice(end);
        return reply;
      }
      await new Promise<void>((resolve) => {
        wake = resolve;
      });
    }
  };
  replies.push(await nextReply());
  for (const command of commands) {
    socket.write(command.endsWith('\r\n') ? command : `${command}\r\n`);
    replies.push(await nextReply());
  }
  socket.end();
  await closed;
  return replies;
};
