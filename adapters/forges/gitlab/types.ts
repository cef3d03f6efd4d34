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

// --- GitLab REST v4 entities: only the fields Postdesk reads ----------------------------------

/** `doc/api/issues.md`, the issue entity. */
export interface GitLabIssueEntity {
  id: number;
  iid: number;
  project_id: number;
  title: string;
  description: string | null;
  state: string;
  web_url: string;
  confidential: boolean;
  labels: string[];
  assignees?: { username: string }[] | null;
}

/** `doc/api/notes.md`, the note entity. */
export interface GitLabNoteEntity {
  id: number;
  body: string;
  internal?: boolean;
  confidential?: boolean;
  system?: boolean;
}

/** `doc/api/project_markdown_uploads.md`, "Upload a file". */
export interface GitLabUploadEntity {
  id?: number;
  alt: string;
  url: string;
  full_path?: string;
  markdown: string;
}

/** `doc/api/users.md`, `GET /user`. */
export interface GitLabUserEntity {
  id: number;
  username: string;
  name: string;
  state: string;
  bot?: boolean;
}

/** `doc/api/personal_access_tokens.md`, `GET /personal_access_tokens/self`. */
export interface GitLabTokenEntity {
  id: number;
  name: string;
  revoked: boolean;
  active: boolean;
  scopes: string[];
  user_id: number;
  expires_at: string | null;
}

/** `doc/api/members.md`, a member. */
export interface GitLabMemberEntity {
  id: number;
  username: string;
  access_level: number;
}

/** `doc/api/projects.md`, the few fields of a project Postdesk reads. */
export interface GitLabProjectEntity {
  id: number;
  path_with_namespace: string;
  web_url: string;
  default_branch?: string | null;
}

/** `doc/api/project_webhooks.md`, a project hook. */
export interface GitLabHookEntity {
  id: number;
  url: string;
  push_events?: boolean;
  issues_events?: boolean;
  confidential_issues_events?: boolean;
  note_events?: boolean;
  confidential_note_events?: boolean;
  enable_ssl_verification?: boolean;
}
