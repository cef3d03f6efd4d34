import { PassThrough, Readable } from 'node:stream';
import type { CommandIo } from '../../cli/io.ts';

/** A CommandIo over in-memory buffers, so a test reads exactly what a person would see. */
export const bufferIo = (options: { cwd: string; env?: NodeJS.ProcessEnv; stdin?: string }) => {
  const out: Buffer[] = [];
  const err: Buffer[] = [];
  const stdout = new PassThrough();
  const stderr = new PassThrough();
  stdout.on('data', (chunk: Buffer) => out.push(chunk));
  stderr.on('data', (chunk: Buffer) => err.push(chunk));
  const io: CommandIo = {
    stdout,
    stderr,
    stdin: Readable.from(options.stdin === undefined ? [] : [options.stdin]),
    env: options.env ?? {},
    cwd: options.cwd,
  };
  return {
    io,
    stdout: () => Buffer.concat(out).toString('utf8'),
    stderr: () => Buffer.concat(err).toString('utf8'),
  };
};
