import type { Readable } from 'node:stream';

/**
 * Ports: everything outside the pure pipeline. Adapters in `adapters/` implement them; functions and
 * the CLI build them once (per cold start, per process) and pass them in.
 */

/** Where raw mail lives: `mail/<id>` in the bucket, or `.postdesk/mail/<id>.eml` locally. */
export interface RawMailStore {
  /** Streams the raw bytes. Throws TransientError when the store is unavailable. */
  open(key: string): Promise<Readable>;
  /** Size in bytes, or undefined when the mail does not exist. */
  size(key: string): Promise<number | undefined>;
}

/** A stored object with its version tag (S3 ETag, or a local content hash). */
export interface StoredObject {
  body: string;
  etag: string;
}

/**
 * A small-object store with S3's conditional-write semantics: create only if absent
 * (`If-None-Match: *`) and replace only if unchanged (`If-Match: <etag>`). The ledger, ticket
 * records, quarantine index and rate counters are built on this one primitive.
 */
export interface ObjectStore {
  get(key: string): Promise<StoredObject | undefined>;
  /** Creates the object; returns its etag, or `'exists'` when another writer got there first (412). */
  putIfAbsent(key: string, body: string): Promise<{ etag: string } | 'exists'>;
  /** Replaces the object; returns the new etag, or `'conflict'` when it changed since `etag` (412). */
  putIfMatch(key: string, body: string, etag: string): Promise<{ etag: string } | 'conflict'>;
  /** Unconditional write (quarantine payloads, counters reset). */
  put(key: string, body: string): Promise<{ etag: string }>;
  delete(key: string): Promise<void>;
  /** Keys under a prefix, in lexical order. */
  list(prefix: string): AsyncIterable<string>;
}

/** A project as the forge knows it. */
export interface ForgeProjectRef {
  /** Full path, e.g. `acme/game`. */
  path: string;
}

export interface ForgeIssue {
  iid: number;
  /** Forge-wide id (GitLab `id`). */
  id: number;
  title: string;
  state: 'opened' | 'closed';
  webUrl: string;
  confidential: boolean;
  labels: string[];
  assignees: string[];
}

export interface ForgeUpload {
  /** Markdown the forge wants embedded, e.g. `![x](/uploads/<secret>/x.png)`. */
  markdown: string;
  url: string;
  /** Absolute URL, when the forge gives it. */
  fullUrl?: string | undefined;
  alt: string;
}

export interface ForgeNote {
  id: number;
  body: string;
  internal: boolean;
}

export interface CreateIssueInput {
  title: string;
  description: string;
  labels: string[];
  confidential: boolean;
}

export interface UploadInput {
  filename: string;
  contentType: string;
  content: Readable;
  /** Size in bytes when known (lets adapters set Content-Length and check limits). */
  size?: number | undefined;
}

/**
 * The forge: GitLab first. Errors: 401/403/404 throw PermanentError with a message that says what to
 * fix; timeouts, 409, 429 and 5xx throw TransientError after the adapter's own bounded retries.
 */
export interface Forge {
  readonly kind: string;
  createIssue(project: ForgeProjectRef, input: CreateIssueInput): Promise<ForgeIssue>;
  uploadFile(project: ForgeProjectRef, input: UploadInput): Promise<ForgeUpload>;
  addNote(
    project: ForgeProjectRef,
    issueIid: number,
    input: { body: string; internal: boolean },
  ): Promise<ForgeNote>;
  getIssue(project: ForgeProjectRef, issueIid: number): Promise<ForgeIssue | undefined>;
  reopenIssue(project: ForgeProjectRef, issueIid: number): Promise<void>;
  /** Finds the issue whose description carries Postdesk's hidden marker (exactly-once recovery). */
  findIssueByMarker(project: ForgeProjectRef, marker: string): Promise<ForgeIssue | undefined>;
  /** Finds a note on the issue whose body carries the marker (exactly-once recovery for notes). */
  findNoteByMarker(
    project: ForgeProjectRef,
    issueIid: number,
    marker: string,
  ): Promise<ForgeNote | undefined>;
  /** Reads a file from the project's default branch; undefined when it does not exist. */
  readRepoFile(project: ForgeProjectRef, path: string): Promise<string | undefined>;
}

/** The desk secret document (flat YAML, like GitLab's encrypted service-desk secret). */
export interface DeskSecret {
  forge_token?: string | undefined;
  webhook_token?: string | undefined;
  reply_key?: string | undefined;
}

export interface SecretSource {
  /** The cached secret (read once, then from memory). */
  get(): Promise<DeskSecret>;
  /** Re-reads the secret, e.g. after a forge 401 or a rotation. */
  refresh(): Promise<DeskSecret>;
}

export interface Clock {
  now(): Date;
}

export const systemClock: Clock = { now: () => new Date() };

/** Structured logging. Adapters redact secrets; callers never pass secret values. */
export interface Logger {
  debug(message: string, fields?: Record<string, unknown>): void;
  info(message: string, fields?: Record<string, unknown>): void;
  warn(message: string, fields?: Record<string, unknown>): void;
  error(message: string, fields?: Record<string, unknown>): void;
}

export const silentLogger: Logger = { debug() {}, info() {}, warn() {}, error() {} };

/** Outbound mail: SES v2 raw send in AWS, `.postdesk/outbox/*.eml` locally. */
export interface Mailer {
  /** Sends raw RFC 5322 bytes; returns the message id the transport assigned (SES replaces ours). */
  sendRaw(input: { from: string; to: string[]; raw: Buffer }): Promise<{ messageId: string }>;
}
