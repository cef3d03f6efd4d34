import type { Logger } from '../../../core/ports.ts';

/** Backoff knobs. Tests inject `sleep` and `random` to record waits instead of waiting. */
export interface GitLabRetryOptions {
  /** Attempts per request, the first included. @default 4 */
  attempts?: number;
  /** First backoff step in ms. @default 250 */
  baseMs?: number;
  /** Largest backoff step in ms. @default 8000 */
  capMs?: number;
  /**
   * Longest `Retry-After` slept through in-process; a longer one is handed to the queue as the
   * TransientError's `retryAfterMs`. @default 20000
   */
  maxRetryAfterMs?: number;
  /** @default real timer */
  sleep?: (ms: number) => Promise<void>;
  /** Full jitter source in [0, 1). @default Math.random */
  random?: () => number;
}

export interface GitLabForgeOptions {
  /** The instance URL, e.g. `https://gitlab.example.com` (a relative root such as `/gitlab` is kept). */
  url: string;
  /** The bot token, read from the desk secret (cached by the caller). Never logged. */
  token: () => Promise<string>;
  /**
   * Called once when GitLab answers 401, so the caller re-reads the secret (a rotated token); the
   * request is then retried once with `token()`'s new value. Concurrent 401s share one call.
   */
  onUnauthorized?: () => Promise<void>;
  /** Total time per request in ms (for uploads: time without progress). @default 10000 */
  timeoutMs?: number;
  /** Time to connect in ms, capped by `timeoutMs`. @default 5000 */
  connectTimeoutMs?: number;
  /** Total time per upload in ms. @default 300000 */
  uploadTimeoutMs?: number;
  retry?: GitLabRetryOptions;
  /** Retries and failures are logged here (method, path, status; never the token). */
  logger?: Logger;
}
