/**
 * Defaults of the GitLab adapter, in one place so a reader sees every knob before any logic.
 * Each is overridable through `GitLabForgeOptions`.
 */
export const GITLAB_DEFAULTS = {
  /** Total time for one request, connect included (uploads: time without progress). */
  timeoutMs: 10_000,
  /** Time to get a connected socket (DNS, TCP and TLS), capped by `timeoutMs`. */
  connectTimeoutMs: 5_000,
  /** Total time for one upload, however steadily it progresses. */
  uploadTimeoutMs: 300_000,
  /** Attempts per request, the first included. */
  attempts: 4,
  /** First backoff step; step n waits a random time in [0, min(capMs, baseMs * 2^(n-1))). */
  baseMs: 250,
  capMs: 8_000,
  /**
   * The longest `Retry-After` we sleep through inside one invocation. A longer one ends the
   * retries at once with a TransientError carrying it, so the queue waits instead of the function.
   */
  maxRetryAfterMs: 20_000,
  /** Responses larger than this are refused (GitLab's JSON answers are small). */
  maxResponseBytes: 16 * 1024 * 1024,
  /** Pages of search results read when looking for a marker (100 issues a page). */
  markerSearchPages: 5,
  /** Pages of notes read when looking for a marker (100 notes a page, newest first). */
  markerNotePages: 50,
} as const;

/** GitLab's access levels (`Gitlab::Access`), as `doc/api/members.md` lists them. */
export const GITLAB_ACCESS_LEVELS = {
  0: 'none',
  5: 'minimal',
  10: 'guest',
  15: 'planner',
  20: 'reporter',
  30: 'developer',
  40: 'maintainer',
  50: 'owner',
  60: 'admin',
} as const;

export type GitLabRole = (typeof GITLAB_ACCESS_LEVELS)[keyof typeof GITLAB_ACCESS_LEVELS];

/** Statuses worth another attempt: lock conflicts (409), rate limits (429), server trouble. */
export const RETRYABLE_STATUSES: ReadonlySet<number> = new Set([408, 409, 429, 500, 502, 503, 504]);

export const USER_AGENT = 'postdesk-forge-gitlab';
