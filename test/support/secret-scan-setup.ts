import { appendFileSync } from 'node:fs';
import { join } from 'node:path';
import { threadId } from 'node:worker_threads';
import { afterEach, inject, type MockInstance, vi } from 'vitest';

/**
 * The suite-wide secret scan, worker half (vitest `setupFiles`). Everything a test worker prints is
 * appended, line by line, to a file of its own in the folder the global half
 * (test/support/secret-scan-global.ts) created and provided; the global half reads them all after
 * the run and fails it when a value of the test secret (test/support/test-secret.ts) appears.
 *
 * Recorded: `process.stdout`/`process.stderr` writes (Powertools, the CLI's console logger, anything
 * printed), `console.*` calls, the output swallowed by a test that spies on a stream's `write`
 * (recorded when the spy is restored), and the error of every failed test (message, stack, cause
 * chain). Without the global half (no folder provided) the file does nothing.
 *
 *   vitest.config.ts:  setupFiles: ['test/support/secret-scan-setup.ts'],
 *                      globalSetup: ['test/support/secret-scan-global.ts'],
 */

declare module 'vitest' {
  export interface ProvidedContext {
    /** The folder every worker appends its printed lines to (set by secret-scan-global.ts). */
    postdeskSecretScanDir: string;
  }
}

const INSTALLED = Symbol.for('postdesk.secretScan.installed');

type Recorder = (source: string, text: string) => void;

/** A recorder that appends `source<TAB>line` to `file`, one line per printed line (escapes kept). */
export const fileRecorder =
  (file: string): Recorder =>
  (source, text) => {
    if (text === '') return;
    const lines = text.split(/\r?\n/).filter((line) => line !== '');
    if (lines.length === 0) return;
    appendFileSync(file, `${lines.map((line) => `${source}\t${line}`).join('\n')}\n`);
  };

const textOf = (chunk: unknown): string =>
  typeof chunk === 'string'
    ? chunk
    : chunk instanceof Uint8Array
      ? Buffer.from(chunk).toString('utf8')
      : String(chunk);

/** Everything an error says: message, stack and the cause chain, as one text. */
export const errorText = (error: unknown, depth = 0): string => {
  if (depth > 10) return '';
  if (error instanceof Error) {
    const cause = (error as { cause?: unknown }).cause;
    return [error.message, error.stack ?? '', cause === undefined ? '' : errorText(cause, depth + 1)].join(
      '\n',
    );
  }
  if (typeof error === 'object' && error !== null) {
    try {
      return JSON.stringify(error);
    } catch {
      return String(error);
    }
  }
  return String(error);
};

/** Wraps a stream's `write` so every chunk is recorded before it is written. */
export const recordStream = (stream: NodeJS.WriteStream, source: string, record: Recorder): void => {
  const original = stream.write;
  const wrapped = function recordedWrite(this: NodeJS.WriteStream, chunk: unknown, ...rest: unknown[]) {
    record(source, textOf(chunk));
    return (original as (...args: unknown[]) => boolean).call(this, chunk, ...rest);
  };
  stream.write = wrapped as typeof stream.write;
};

const CONSOLE_METHODS = ['log', 'info', 'warn', 'error', 'debug', 'trace'] as const;

export const recordConsole = (record: Recorder): void => {
  for (const method of CONSOLE_METHODS) {
    const original = console[method];
    console[method] = (...args: unknown[]) => {
      record(
        `console.${method}`,
        args.map((arg) => (arg instanceof Error ? errorText(arg) : textOf(arg))).join(' '),
      );
      original.apply(console, args);
    };
  }
};

/**
 * A test that spies on `process.stdout.write` with a mock implementation swallows what it prints:
 * the spy's calls are recorded when it is restored (captureStdout's `restore`, restoreAllMocks).
 */
export const recordSpiedStreams = (record: Recorder): void => {
  const holder = vi as unknown as {
    spyOn: ((...args: unknown[]) => MockInstance) & { [INSTALLED]?: boolean };
  };
  if (holder.spyOn[INSTALLED]) return;
  const spyOn = vi.spyOn.bind(vi) as (...args: unknown[]) => MockInstance;
  const recordingSpyOn = (...args: unknown[]) => {
    const spy = spyOn(...args);
    const [target, method] = args;
    if ((target === process.stdout || target === process.stderr) && method === 'write') {
      const source = target === process.stdout ? 'spied-stdout' : 'spied-stderr';
      const restore = spy.mockRestore.bind(spy);
      spy.mockRestore = () => {
        for (const call of spy.mock.calls) record(source, textOf(call[0]));
        return restore();
      };
    }
    return spy;
  };
  holder.spyOn = Object.assign(recordingSpyOn, { [INSTALLED]: true });
};

/** Wraps the streams and the console once per process, and `vi.spyOn` once per copy of vitest. */
const install = (record: Recorder): void => {
  const holder = globalThis as { [INSTALLED]?: boolean };
  if (!holder[INSTALLED]) {
    holder[INSTALLED] = true;
    recordStream(process.stdout, 'stdout', record);
    recordStream(process.stderr, 'stderr', record);
    recordConsole(record);
  }
  recordSpiedStreams(record);
};

const dir = inject('postdeskSecretScanDir');
if (typeof dir === 'string' && dir !== '') {
  const record = fileRecorder(join(dir, `worker-${process.pid}-${threadId}.log`));
  install(record);
  // Registered before any test file's hooks, so (hooks run as a stack) it runs after them all.
  afterEach((context) => {
    for (const error of context.task.result?.errors ?? []) record('test-error', errorText(error));
  });
}
