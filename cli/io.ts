import { readFile } from 'node:fs/promises';
import { resolve } from 'node:path';
import { parseConfig } from '../core/config/parse.ts';
import type { DeskConfig } from '../core/config/schema.ts';
import { PermanentError } from '../core/errors.ts';
import { demoConfig } from './demo-config.ts';

/** What a command writes to; tests pass buffers, the binary passes the process streams. */
export interface CommandIo {
  stdout: NodeJS.WritableStream;
  stderr: NodeJS.WritableStream;
  stdin: NodeJS.ReadableStream;
  env: NodeJS.ProcessEnv;
  cwd: string;
}

export const processIo = (): CommandIo => ({
  stdout: process.stdout,
  stderr: process.stderr,
  stdin: process.stdin,
  env: process.env,
  cwd: process.cwd(),
});

export interface Command {
  name: string;
  /** One line for `postdesk --help`. */
  summary: string;
  /** Full usage text for `postdesk <name> --help`. */
  usage: string;
  /** Returns the exit code. Throws only for bugs; user errors print a message and return non-zero. */
  run(argv: string[], io: CommandIo): Promise<number>;
}

/** Where local state lives: `--data-dir`, then `POSTDESK_DATA_DIR`, then `./.postdesk`. */
export const dataDir = (flag: string | undefined, io: CommandIo): string =>
  resolve(io.cwd, flag ?? io.env['POSTDESK_DATA_DIR'] ?? '.postdesk');

/** The config path: `--config`, then `POSTDESK_CONFIG`, then `./postdesk.config.yaml`. */
export const configPath = (flag: string | undefined, io: CommandIo): string =>
  resolve(io.cwd, flag ?? io.env['POSTDESK_CONFIG'] ?? 'postdesk.config.yaml');

/** Reads and checks the config; a missing file is a PermanentError that says how to make one. */
export const loadConfigFile = async (path: string): Promise<DeskConfig> => {
  let text: string;
  try {
    text = await readFile(path, 'utf8');
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') {
      throw new PermanentError(
        'config_missing',
        `config file ${path} not found: create it (see "Configure a project" in the README) or pass --config FILE`,
      );
    }
    throw error;
  }
  return parseConfig(text, path);
};

export const isTty = (stream: NodeJS.ReadableStream | NodeJS.WritableStream): boolean =>
  (stream as { isTTY?: boolean }).isTTY === true;

/** All of a stream as UTF-8 text (standard input for `secret write`, `reply`). */
export const readAll = async (stream: NodeJS.ReadableStream): Promise<string> => {
  const chunks: Buffer[] = [];
  for await (const chunk of stream) chunks.push(typeof chunk === 'string' ? Buffer.from(chunk) : chunk);
  return Buffer.concat(chunks).toString('utf8');
};

export const writeLine = (stream: NodeJS.WritableStream, line = ''): void => {
  stream.write(`${line}\n`);
};

export const writeJson = (stream: NodeJS.WritableStream, value: unknown): void => {
  stream.write(`${JSON.stringify(value)}\n`);
};

/**
 * The config for commands that can run the demo desk: the named or default file; when no file is
 * named (no --config, no $POSTDESK_CONFIG) and ./postdesk.config.yaml does not exist, the demo desk.
 * A named file that is missing still fails.
 */
export const loadConfigOrDemo = async (
  flag: string | undefined,
  io: CommandIo,
): Promise<{ config: DeskConfig; demo: boolean; path: string }> => {
  const path = configPath(flag, io);
  const named = flag !== undefined || io.env['POSTDESK_CONFIG'] !== undefined;
  try {
    return { config: await loadConfigFile(path), demo: false, path };
  } catch (error) {
    if (!named && error instanceof PermanentError && error.code === 'config_missing') {
      return { config: demoConfig(), demo: true, path };
    }
    throw error;
  }
};
