import type { Logger } from '../core/ports.ts';

/**
 * A Logger for long-running commands (`serve`): warnings and errors to stderr, info and debug only
 * when asked. For a person one line per record; with `json`, one JSON object per line, so stdout
 * stays the command's own output (the mail lines) and a program can read both.
 */

const LEVELS = { debug: 10, info: 20, warn: 30, error: 40 } as const;
export type LogLevel = keyof typeof LEVELS;

export const createConsoleLogger = (
  stream: NodeJS.WritableStream,
  options: { json?: boolean | undefined; level?: LogLevel | undefined } = {},
): Logger => {
  const threshold = LEVELS[options.level ?? 'warn'];
  const write = (level: LogLevel, message: string, fields?: Record<string, unknown>): void => {
    if (LEVELS[level] < threshold) return;
    if (options.json) {
      stream.write(`${JSON.stringify({ level, time: new Date().toISOString(), message, ...fields })}\n`);
      return;
    }
    const extra = fields && Object.keys(fields).length > 0 ? ` ${JSON.stringify(fields)}` : '';
    stream.write(`${level}: ${message}${extra}\n`);
  };
  return {
    debug: (message, fields) => write('debug', message, fields),
    info: (message, fields) => write('info', message, fields),
    warn: (message, fields) => write('warn', message, fields),
    error: (message, fields) => write('error', message, fields),
  };
};
