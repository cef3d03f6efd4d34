/**
 * Errors that cross a stage boundary. Expected outcomes (dropped, quarantined, no route) are
 * values, never exceptions; only infrastructure faults throw, and then always as one of these two,
 * so a caller knows whether a throw starts a retry (transient) or ends in quarantine (permanent).
 */
export class PostdeskError extends Error {
  /** A stable machine-readable code, e.g. `forge_unauthorized`. */
  readonly code: string;
  constructor(code: string, message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = 'PostdeskError';
    this.code = code;
  }
}

/** Worth retrying later: timeouts, 5xx, 429, lost races that must be re-run. */
export class TransientError extends PostdeskError {
  /** Milliseconds the remote asked us to wait (from `Retry-After`), when it said. */
  readonly retryAfterMs: number | undefined;
  constructor(code: string, message: string, options?: { cause?: unknown; retryAfterMs?: number }) {
    super(code, message, options);
    this.name = 'TransientError';
    this.retryAfterMs = options?.retryAfterMs;
  }
}

/** Retrying will not help until a person fixes something; the message says what. */
export class PermanentError extends PostdeskError {
  constructor(code: string, message: string, options?: { cause?: unknown }) {
    super(code, message, options);
    this.name = 'PermanentError';
  }
}

/** One problem found in a config file, with where it is and how to fix it. */
export interface ConfigProblem {
  /** Dotted path inside the document, e.g. `projects.0.key`. */
  path: string;
  /** 1-based line in the file, when known. */
  line: number | undefined;
  message: string;
}

/** A config that cannot be used; lists every problem at once. */
export class ConfigError extends PermanentError {
  readonly file: string;
  readonly problems: readonly ConfigProblem[];
  constructor(file: string, problems: readonly ConfigProblem[]) {
    const lines = problems.map(
      (p) => `  ${file}${p.line === undefined ? '' : `:${p.line}`} ${p.path}: ${p.message}`,
    );
    super(
      'config_invalid',
      `${file} has ${problems.length} problem${problems.length === 1 ? '' : 's'}:\n${lines.join('\n')}`,
    );
    this.name = 'ConfigError';
    this.file = file;
    this.problems = problems;
  }
}

export const isTransient = (error: unknown): error is TransientError => error instanceof TransientError;
export const isPermanent = (error: unknown): error is PermanentError => error instanceof PermanentError;

/** The message of any thrown value, without assuming it is an Error. */
export const errorMessage = (error: unknown): string =>
  error instanceof Error ? error.message : typeof error === 'string' ? error : JSON.stringify(error);
