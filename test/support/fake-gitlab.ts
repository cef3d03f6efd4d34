import { randomBytes } from 'node:crypto';
import { readFileSync } from 'node:fs';
import http from 'node:http';
import type { AddressInfo } from 'node:net';

/**
 * A fake GitLab REST v4 over real HTTP on 127.0.0.1, for tests of anything that talks to GitLab.
 *
 * Faithful where Postdesk depends on it: response bodies are the documented examples in
 * `test/fixtures/corpus/api/gitlab/` used as templates (same keys, same nesting), with ids, titles
 * and URLs filled in; statuses, error bodies and pagination headers are GitLab's (201 on create,
 * `{"message":"401 Unauthorized"}`, `{"message":"404 Project Not Found"}`, `X-Next-Page`...);
 * tokens, scopes and roles are checked. It records every request (never the token) and injects
 * faults on demand.
 *
 *     const gitlab = await startFakeGitLab();                  // acme/game, bot is Developer
 *     const forge = createGitLabForge({ url: gitlab.url, token: async () => gitlab.token });
 *     gitlab.failNext(2, { status: 503 });                      // the next two requests fail
 *     ...
 *     expect(gitlab.issues('acme/game')[0]?.title).toBe('Printer on fire');
 *     await gitlab.close();
 *
 * Endpoints: `GET /user`, `GET /personal_access_tokens/self`, `GET /projects/:id`,
 * `GET|POST /projects/:id/issues` (`search`, `in`, `state`, paging), `GET|PUT
 * /projects/:id/issues/:iid` (`state_event`), `GET|POST /projects/:id/issues/:iid/notes` (`sort`,
 * `order_by`, paging, `internal`), `POST /projects/:id/uploads` (multipart field `file`),
 * `GET /projects/:id/repository/files/:file_path/raw` (`ref`), `GET /projects/:id/members/all/:user_id`,
 * `GET /projects/:id/hooks`. `:id` is a numeric id or the URL-encoded full path.
 */

// --- configuration ------------------------------------------------------------------------------

/** The default bot token; valid for the default bot user with the `api` scope. */
export const FAKE_GITLAB_TOKEN = 'glpat-fake-bot-0123456789abcdef';
/** The default bot user id. */
export const FAKE_GITLAB_BOT_ID = 2;

/** GitLab roles by access level (`doc/api/members.md`). */
export const ACCESS = {
  guest: 10,
  planner: 15,
  reporter: 20,
  developer: 30,
  maintainer: 40,
  owner: 50,
} as const;

export interface FakeGitLabUser {
  id: number;
  username: string;
  /** @default the username */
  name?: string;
  /** @default false */
  bot?: boolean;
}

export interface FakeGitLabToken {
  value: string;
  userId: number;
  /** @default ['api'] */
  scopes?: string[];
  /** @default 'postdesk' */
  name?: string;
  /** `YYYY-MM-DD`. @default null */
  expiresAt?: string | null;
  /** A revoked token answers 401. @default false */
  revoked?: boolean;
}

export interface FakeGitLabHook {
  url: string;
  issues_events?: boolean;
  confidential_issues_events?: boolean;
  note_events?: boolean;
  confidential_note_events?: boolean;
  push_events?: boolean;
  enable_ssl_verification?: boolean;
}

export interface FakeGitLabProject {
  /** Full path, e.g. `acme/game`. */
  path: string;
  /** @default 1, 2, 3... in order */
  id?: number;
  /** @default 'private' (non-members get 404, as on GitLab) */
  visibility?: 'private' | 'internal' | 'public';
  /** User id to access level (see `ACCESS`). @default the first user as Developer */
  members?: Record<number, number>;
  hooks?: FakeGitLabHook[];
  /** Files on the default branch, by path. */
  files?: Record<string, string>;
  /** @default 'main' */
  defaultBranch?: string;
}

export interface FakeGitLabOptions {
  /** @default [{ id: 2, username: 'postdesk-bot', name: 'Postdesk Bot', bot: true }] */
  users?: FakeGitLabUser[];
  /** @default [{ value: FAKE_GITLAB_TOKEN, userId: <first user>, scopes: ['api'] }] */
  tokens?: FakeGitLabToken[];
  /** @default [{ path: 'acme/game' }] */
  projects?: FakeGitLabProject[];
}

// --- what the fake exposes ----------------------------------------------------------------------

/** An issue as GitLab returns it (the keys of `post-projects-id-issues.response.json`). */
export interface FakeIssue {
  id: number;
  iid: number;
  project_id: number;
  title: string;
  description: string | null;
  state: 'opened' | 'closed';
  labels: string[];
  confidential: boolean;
  web_url: string;
  created_at: string;
  updated_at: string;
  closed_at: string | null;
  user_notes_count: number;
  [key: string]: unknown;
}

/** A note as GitLab returns it (the keys of `note-entity.single-note-example.json`). */
export interface FakeNote {
  id: number;
  body: string;
  internal: boolean;
  confidential: boolean;
  system: boolean;
  noteable_iid: number;
  created_at: string;
  [key: string]: unknown;
}

/** The upload entity (`post-projects-id-uploads.response.json`). */
export interface FakeUploadEntity {
  id: number;
  alt: string;
  url: string;
  full_path: string;
  markdown: string;
}

/** An upload as received: GitLab's answer plus what came over the wire. */
export interface FakeUpload {
  entity: FakeUploadEntity;
  /** The filename the client sent (before GitLab's sanitising). */
  filename: string;
  contentType: string;
  bytes: Buffer;
}

export interface RecordedRequest {
  method: string;
  /** Path and query as sent, e.g. `/api/v4/projects/acme%2Fgame/issues`. */
  path: string;
  /** Lowercased headers, without `private-token`, `authorization` and `job-token`. */
  headers: Record<string, string | string[] | undefined>;
  bodySize: number;
  /** The parsed JSON or form body (not for uploads). */
  body: unknown;
  /** The status answered, or `dropped` when the socket was destroyed instead. */
  status: number | 'dropped';
}

export interface FakeFault {
  /** e.g. 409, 429, 500, 502, 503 (any status works). */
  status: number;
  /** `Retry-After`: seconds, or an HTTP date string sent verbatim. */
  retryAfter?: number | string;
  /** @default GitLab's body for the status */
  body?: string;
}

export interface FakeGitLab {
  /** Base URL to configure as `forge.url`, e.g. `http://127.0.0.1:40123`. */
  readonly url: string;
  /** The first configured token's value. */
  readonly token: string;
  /** Every request so far, in arrival order (copies). */
  readonly requests: readonly RecordedRequest[];
  /** Issues of a project, in creation order. */
  issues(path: string): FakeIssue[];
  /** Notes of an issue, in creation order. */
  notes(path: string, iid: number): FakeNote[];
  /** Uploads to a project, with the bytes received. */
  uploads(path: string): FakeUpload[];
  /** Adds an issue as if someone had created it (for searches, reopen...). */
  seedIssue(
    path: string,
    issue: {
      title: string;
      description?: string;
      state?: 'opened' | 'closed';
      labels?: string[];
      confidential?: boolean;
    },
  ): FakeIssue;
  /** Adds a note as if someone had written it. */
  seedNote(path: string, iid: number, note: { body: string; internal?: boolean; system?: boolean }): FakeNote;
  /** Puts (or, with undefined, removes) a file on the default branch. */
  setFile(path: string, file: string, content: string | undefined): void;
  addToken(token: FakeGitLabToken): void;
  revokeToken(value: string): void;
  /** The next `n` requests get `fault` instead of an answer (after their body was read). */
  failNext(n: number, fault: FakeFault): void;
  /** The next `n` requests are answered `ms` later. @param n @default 1 */
  delay(ms: number, n?: number): void;
  /** The next `n` requests have their socket destroyed on arrival (ECONNRESET for the client). */
  dropNext(n: number): void;
  /** Every request is answered `ms` later (0 to stop). */
  setLatency(ms: number): void;
  /** Request body bytes received so far, counted as they arrive (to prove streaming). */
  bytesReceived(): number;
  clearRequests(): void;
  close(): Promise<void>;
}

// --- templates: GitLab's documented examples ----------------------------------------------------

type Json = Record<string, unknown>;

const fixture = (name: string): Json =>
  JSON.parse(readFileSync(new URL(`../fixtures/corpus/api/gitlab/${name}`, import.meta.url), 'utf8')) as Json;

const ISSUE_TEMPLATE = fixture('post-projects-id-issues.response.json');
const NOTE_TEMPLATE = fixture('note-entity.single-note-example.json');
const UPLOAD_TEMPLATE = fixture('post-projects-id-uploads.response.json');

/** The fixture a fake entity is built from, for contract tests. */
export const FAKE_GITLAB_TEMPLATES = {
  issue: ISSUE_TEMPLATE,
  note: NOTE_TEMPLATE,
  upload: UPLOAD_TEMPLATE,
} as const;

// --- internal state -----------------------------------------------------------------------------

interface ProjectState {
  id: number;
  path: string;
  visibility: 'private' | 'internal' | 'public';
  members: Map<number, number>;
  hooks: (FakeGitLabHook & { id: number; created_at: string })[];
  files: Map<string, string>;
  defaultBranch: string;
  nextIid: number;
  issues: FakeIssue[];
  notes: Map<number, FakeNote[]>;
  uploads: FakeUpload[];
  createdAt: string;
}

interface Caller {
  user: FakeGitLabUser;
  token: FakeGitLabToken & { id: number };
}

interface Reply {
  status: number;
  body: string;
  headers?: Record<string, string>;
}

class HttpAnswer extends Error {
  readonly reply: Reply;
  constructor(status: number, body: Json) {
    super(`${status}`);
    this.reply = json(status, body);
  }
}

const json = (status: number, body: unknown, headers: Record<string, string> = {}): Reply => ({
  status,
  body: JSON.stringify(body),
  headers: { 'content-type': 'application/json', ...headers },
});

const now = (): string => new Date().toISOString();

/** The entries of `source` whose keys the template object has. */
const pick = (source: Json, template: unknown): Json =>
  typeof template === 'object' && template !== null
    ? Object.fromEntries(Object.entries(source).filter(([key]) => key in template))
    : {};

const SECRET_HEADERS = new Set(['private-token', 'authorization', 'job-token']);

/** GitLab's default bodies for injected faults. 429 is Rack::Attack's plain text. */
const faultReply = (fault: FakeFault): Reply => {
  const headers: Record<string, string> = {};
  if (fault.retryAfter !== undefined) headers['retry-after'] = String(fault.retryAfter);
  if (fault.body !== undefined) return { status: fault.status, body: fault.body, headers };
  if (fault.status === 429) {
    return { status: 429, body: 'Retry later\n', headers: { ...headers, 'content-type': 'text/plain' } };
  }
  const text = http.STATUS_CODES[fault.status] ?? 'Error';
  return json(fault.status, { message: `${fault.status} ${text}` }, headers);
};

// --- the server ---------------------------------------------------------------------------------

export const startFakeGitLab = async (options: FakeGitLabOptions = {}): Promise<FakeGitLab> => {
  const users = options.users ?? [
    { id: FAKE_GITLAB_BOT_ID, username: 'postdesk-bot', name: 'Postdesk Bot', bot: true },
  ];
  const firstUser = users[0];
  if (firstUser === undefined) throw new Error('startFakeGitLab: configure at least one user');
  const tokens = (options.tokens ?? [{ value: FAKE_GITLAB_TOKEN, userId: firstUser.id }]).map((t, i) => ({
    ...t,
    id: i + 1,
  }));
  const firstToken = tokens[0];
  if (firstToken === undefined) throw new Error('startFakeGitLab: configure at least one token');

  const projects: ProjectState[] = (options.projects ?? [{ path: 'acme/game' }]).map((p, i) => ({
    id: p.id ?? i + 1,
    path: p.path,
    visibility: p.visibility ?? 'private',
    members: new Map(
      Object.entries(p.members ?? { [firstUser.id]: ACCESS.developer }).map(([k, v]) => [Number(k), v]),
    ),
    hooks: (p.hooks ?? []).map((h, j) => ({ ...h, id: j + 1, created_at: now() })),
    files: new Map(Object.entries(p.files ?? {})),
    defaultBranch: p.defaultBranch ?? 'main',
    nextIid: 1,
    issues: [],
    notes: new Map(),
    uploads: [],
    createdAt: now(),
  }));

  let nextIssueId = 84;
  let nextNoteId = 302;
  let nextUploadId = 5;
  let received = 0;
  let latencyMs = 0;
  let drops = 0;
  const delays: { ms: number; remaining: number }[] = [];
  const faults: { fault: FakeFault; remaining: number }[] = [];
  const recorded: RecordedRequest[] = [];
  const pending = new Set<NodeJS.Timeout>();
  let baseUrl = '';

  const findProject = (path: string): ProjectState | undefined =>
    projects.find((p) => p.path.toLowerCase() === path.toLowerCase());
  const projectOrThrow = (path: string): ProjectState => {
    const project = findProject(path);
    if (project === undefined) throw new Error(`fake GitLab has no project ${path}`);
    return project;
  };
  const userById = (id: number): FakeGitLabUser | undefined => users.find((u) => u.id === id);

  // --- entities, built from the documented examples ---

  const userBasic = (user: FakeGitLabUser): Json => ({
    id: user.id,
    username: user.username,
    name: user.name ?? user.username,
    state: 'active',
    locked: false,
    avatar_url: null,
    web_url: `${baseUrl}/${user.username}`,
  });

  const buildIssue = (
    project: ProjectState,
    author: FakeGitLabUser,
    fields: {
      title: string;
      description: string | null;
      labels: string[];
      confidential: boolean;
      state: 'opened' | 'closed';
    },
  ): FakeIssue => {
    const iid = project.nextIid++;
    const id = nextIssueId++;
    const at = now();
    const api = `${baseUrl}/api/v4/projects/${project.id}`;
    const issue: FakeIssue = {
      ...structuredClone(ISSUE_TEMPLATE),
      project_id: project.id,
      id,
      iid,
      created_at: at,
      updated_at: at,
      title: fields.title,
      description: fields.description,
      state: fields.state,
      closed_at: fields.state === 'closed' ? at : null,
      labels: fields.labels,
      confidential: fields.confidential,
      assignees: [],
      assignee: null,
      upvotes: 0,
      // The example's author keys exactly (UserBasic without `locked`, as the docs show it).
      author: { ...(ISSUE_TEMPLATE['author'] as Json), ...pick(userBasic(author), ISSUE_TEMPLATE['author']) },
      user_notes_count: 0,
      web_url: `${baseUrl}/${project.path}/-/issues/${iid}`,
      references: { short: `#${iid}`, relative: `#${iid}`, full: `${project.path}#${iid}` },
      _links: {
        self: `${api}/issues/${iid}`,
        notes: `${api}/issues/${iid}/notes`,
        award_emoji: `${api}/issues/${iid}/award_emoji`,
        project: api,
        closed_as_duplicate_of: null,
      },
    };
    project.issues.push(issue);
    return issue;
  };

  const buildNote = (
    project: ProjectState,
    issue: FakeIssue,
    author: FakeGitLabUser,
    fields: { body: string; internal: boolean; system: boolean },
  ): FakeNote => {
    const at = now();
    const template = structuredClone(NOTE_TEMPLATE);
    const note: FakeNote = {
      ...template,
      id: nextNoteId++,
      body: fields.body,
      author: {
        ...(template['author'] as Json),
        id: author.id,
        username: author.username,
        name: author.name ?? author.username,
        email: `${author.username}@example.com`,
        state: 'active',
      },
      created_at: at,
      updated_at: at,
      system: fields.system,
      noteable_id: issue.id,
      noteable_type: 'Issue',
      project_id: project.id,
      noteable_iid: issue.iid,
      resolvable: false,
      confidential: fields.internal,
      internal: fields.internal,
    };
    const list = project.notes.get(issue.iid) ?? [];
    list.push(note);
    project.notes.set(issue.iid, list);
    if (!fields.system) issue.user_notes_count += 1;
    return note;
  };

  // --- request plumbing ---

  const wait = (ms: number): Promise<void> =>
    ms <= 0
      ? Promise.resolve()
      : new Promise((resolve) => {
          const timer = setTimeout(() => {
            pending.delete(timer);
            resolve();
          }, ms);
          pending.add(timer);
        });

  const take = <T extends { remaining: number }>(queue: T[]): T | undefined => {
    const head = queue[0];
    if (head === undefined) return undefined;
    head.remaining -= 1;
    if (head.remaining <= 0) queue.shift();
    return head;
  };

  const server = http.createServer((req, res) => {
    const record: RecordedRequest = {
      method: req.method ?? 'GET',
      path: req.url ?? '/',
      headers: Object.fromEntries(Object.entries(req.headers).filter(([name]) => !SECRET_HEADERS.has(name))),
      bodySize: 0,
      body: undefined,
      status: 'dropped',
    };
    recorded.push(record);
    if (drops > 0) {
      drops -= 1;
      req.socket.destroy();
      return;
    }
    const chunks: Buffer[] = [];
    req.on('data', (chunk: Buffer) => {
      received += chunk.length;
      record.bodySize += chunk.length;
      chunks.push(chunk);
    });
    req.on('error', () => {
      // the client went away; nothing to answer
    });
    req.on('end', () => {
      void (async () => {
        const extra = take(delays);
        await wait(latencyMs + (extra?.ms ?? 0));
        const fault = take(faults);
        let reply: Reply;
        if (fault !== undefined) reply = faultReply(fault.fault);
        else {
          try {
            reply = handle(req, Buffer.concat(chunks), record);
          } catch (error) {
            if (error instanceof HttpAnswer) reply = error.reply;
            else reply = json(500, { message: '500 Internal Server Error', detail: String(error) });
          }
        }
        record.status = reply.status;
        if (res.destroyed || res.writableEnded) return;
        res.writeHead(reply.status, reply.headers ?? {});
        res.end(reply.body);
      })();
    });
  });

  // --- routing ---

  const handle = (req: http.IncomingMessage, raw: Buffer, record: RecordedRequest): Reply => {
    const url = new URL(req.url ?? '/', 'http://fake');
    const rawPath = (req.url ?? '/').split('?')[0] ?? '/';
    if (!rawPath.startsWith('/api/v4/')) return json(404, { error: '404 Not Found' });
    // Split before decoding: `acme%2Fgame` is one segment, as on GitLab.
    const segments = rawPath.slice('/api/v4/'.length).split('/').map(decodeURIComponent);
    const method = req.method ?? 'GET';
    const caller = authenticate(req);
    const contentType = req.headers['content-type'] ?? '';
    const params = parseParams(raw, contentType);
    if (!contentType.startsWith('multipart/')) record.body = params.body;
    const param = (name: string): unknown => params.body[name] ?? url.searchParams.get(name) ?? undefined;

    const [head, id, sub, subId, leaf, leafId, tail] = segments;
    if (head === 'user' && id === undefined && method === 'GET') {
      requireScope(caller, 'read_user');
      return json(200, fullUser(caller.user));
    }
    if (head === 'personal_access_tokens' && id === 'self' && sub === undefined && method === 'GET') {
      const t = caller.token;
      return json(200, {
        id: t.id,
        name: t.name ?? 'postdesk',
        revoked: false,
        created_at: '2024-01-01T00:00:00.000Z',
        description: '',
        scopes: t.scopes ?? ['api'],
        user_id: t.userId,
        last_used_at: now(),
        active: true,
        expires_at: t.expiresAt ?? null,
      });
    }
    if (head !== 'projects' || id === undefined) return json(404, { error: '404 Not Found' });

    requireScope(caller, method === 'GET' ? 'read_api' : 'api');
    const project = visibleProject(id, caller);
    const level = project.members.get(caller.user.id) ?? 0;
    const atLeast = (needed: number): void => {
      if (level < needed) throw new HttpAnswer(403, { message: '403 Forbidden' });
    };

    if (sub === undefined && method === 'GET') return json(200, projectEntity(project, level));

    if (sub === 'issues' && subId === undefined) {
      if (method === 'POST') {
        const title = stringParam(param('title'));
        if (title === undefined || title.trim() === '')
          throw new HttpAnswer(400, { error: 'title is missing' });
        if (title.length > 255) {
          throw new HttpAnswer(400, { message: { title: ['is too long (maximum is 255 characters)'] } });
        }
        const issue = buildIssue(project, caller.user, {
          title,
          description: stringParam(param('description')) ?? null,
          labels: labelsParam(param('labels')),
          confidential: boolParam(param('confidential')),
          state: 'opened',
        });
        return json(201, issue);
      }
      if (method === 'GET') {
        const search = stringParam(param('search'));
        const fields = (stringParam(param('in')) ?? 'title,description').split(',');
        const state = stringParam(param('state')) ?? 'all';
        const list = project.issues
          .filter((i) => state === 'all' || i.state === state)
          .filter((i) => !i.confidential || level >= ACCESS.reporter)
          .filter((i) => search === undefined || matches(i, search, fields))
          .sort((a, b) => (stringParam(param('sort')) === 'asc' ? a.id - b.id : b.id - a.id));
        return paged(list, url);
      }
    }

    if (sub === 'issues' && subId !== undefined) {
      const issue = project.issues.find((i) => String(i.iid) === subId);
      if (issue === undefined || (issue.confidential && level < ACCESS.reporter)) {
        throw new HttpAnswer(404, { message: '404 Not found' });
      }
      if (leaf === undefined && method === 'GET') return json(200, issue);
      if (leaf === undefined && method === 'PUT') {
        atLeast(ACCESS.planner);
        const event = stringParam(param('state_event'));
        if (event === 'reopen' && issue.state === 'closed') {
          issue.state = 'opened';
          issue.closed_at = null;
        } else if (event === 'close' && issue.state === 'opened') {
          issue.state = 'closed';
          issue.closed_at = now();
        }
        const title = stringParam(param('title'));
        if (title !== undefined) issue.title = title;
        issue.updated_at = now();
        return json(200, issue);
      }
      if (leaf === 'notes' && leafId === undefined) {
        if (method === 'POST') {
          const body = stringParam(param('body'));
          if (body === undefined || body === '') throw new HttpAnswer(400, { error: 'body is missing' });
          const internal = boolParam(param('internal')) || boolParam(param('confidential'));
          if (internal) atLeast(ACCESS.reporter);
          return json(201, buildNote(project, issue, caller.user, { body, internal, system: false }));
        }
        if (method === 'GET') {
          const asc = stringParam(param('sort')) === 'asc';
          const list = (project.notes.get(issue.iid) ?? [])
            .filter((n) => !n.internal || level >= ACCESS.reporter)
            .slice()
            .sort((a, b) => (asc ? a.id - b.id : b.id - a.id));
          return paged(list, url);
        }
      }
    }

    if (sub === 'uploads' && subId === undefined && method === 'POST') {
      atLeast(ACCESS.guest);
      const file = parseMultipartFile(raw, contentType);
      if (file === undefined) throw new HttpAnswer(400, { error: 'file is missing' });
      const filename = sanitizeFilename(file.filename);
      const secret = randomBytes(16).toString('hex');
      const embeddable =
        /\.(png|jpe?g|gif|bmp|tiff?|ico|webp|svg|mp4|m4v|mov|webm|ogv|mp3|oga|ogg|spx|wav)$/i.test(filename);
      const alt = embeddable ? filename.replace(/\.[^.]*$/, '') : filename;
      const relative = `/uploads/${secret}/${filename}`;
      const entity: FakeUploadEntity = {
        ...(structuredClone(UPLOAD_TEMPLATE) as unknown as FakeUploadEntity),
        id: nextUploadId++,
        alt,
        url: relative,
        full_path: `/-/project/${project.id}/uploads/${secret}/${filename}`,
        markdown: `${embeddable ? '!' : ''}[${alt}](${relative})`,
      };
      project.uploads.push({
        entity,
        filename: file.filename,
        contentType: file.contentType,
        bytes: file.bytes,
      });
      return json(201, entity);
    }

    if (
      sub === 'repository' &&
      subId === 'files' &&
      leaf !== undefined &&
      leafId === 'raw' &&
      tail === undefined
    ) {
      atLeast(project.visibility === 'private' ? ACCESS.reporter : ACCESS.guest);
      const ref = stringParam(param('ref'));
      if (ref !== undefined && ref !== 'HEAD' && ref !== project.defaultBranch) {
        throw new HttpAnswer(404, { message: '404 Commit Not Found' });
      }
      const content = project.files.get(leaf);
      if (content === undefined) throw new HttpAnswer(404, { message: '404 File Not Found' });
      return {
        status: 200,
        body: content,
        headers: {
          'content-type': 'text/plain; charset=utf-8',
          'x-gitlab-file-name': leaf.split('/').pop() ?? leaf,
          'x-gitlab-file-path': leaf,
          'x-gitlab-ref': ref ?? project.defaultBranch,
        },
      };
    }

    if (
      sub === 'members' &&
      subId === 'all' &&
      leaf !== undefined &&
      leafId === undefined &&
      method === 'GET'
    ) {
      const memberId = Number(leaf);
      const memberLevel = project.members.get(memberId);
      const member = userById(memberId);
      if (memberLevel === undefined || member === undefined)
        throw new HttpAnswer(404, { message: '404 Not found' });
      return json(200, {
        ...userBasic(member),
        access_level: memberLevel,
        created_at: project.createdAt,
        expires_at: null,
        membership_state: 'active',
      });
    }

    if (sub === 'hooks' && subId === undefined && method === 'GET') {
      atLeast(ACCESS.maintainer);
      return paged(
        project.hooks.map((h) => ({
          id: h.id,
          url: h.url,
          name: null,
          description: null,
          project_id: project.id,
          push_events: h.push_events ?? false,
          push_events_branch_filter: '',
          issues_events: h.issues_events ?? false,
          confidential_issues_events: h.confidential_issues_events ?? false,
          merge_requests_events: false,
          tag_push_events: false,
          note_events: h.note_events ?? false,
          confidential_note_events: h.confidential_note_events ?? false,
          job_events: false,
          pipeline_events: false,
          wiki_page_events: false,
          deployment_events: false,
          releases_events: false,
          enable_ssl_verification: h.enable_ssl_verification ?? true,
          created_at: h.created_at,
          alert_status: 'executable',
          disabled_until: null,
        })),
        url,
      );
    }

    return json(404, { error: '404 Not Found' });
  };

  const authenticate = (req: http.IncomingMessage): Caller => {
    const header = req.headers['private-token'];
    const bearer = req.headers.authorization?.replace(/^Bearer\s+/i, '');
    const value = (Array.isArray(header) ? header[0] : header) ?? bearer;
    const token = tokens.find((t) => t.value === value && t.revoked !== true);
    const user = token === undefined ? undefined : userById(token.userId);
    if (token === undefined || user === undefined) throw new HttpAnswer(401, { message: '401 Unauthorized' });
    return { user, token };
  };

  /** `api` grants everything; `read_api` grants reads; `read_user` grants `/user`. */
  const requireScope = (caller: Caller, needed: 'api' | 'read_api' | 'read_user'): void => {
    const scopes = caller.token.scopes ?? ['api'];
    const ok =
      scopes.includes('api') ||
      (needed === 'read_api' && scopes.includes('read_api')) ||
      (needed === 'read_user' && (scopes.includes('read_user') || scopes.includes('read_api')));
    if (!ok) {
      throw new HttpAnswer(403, {
        error: 'insufficient_scope',
        error_description: 'The request requires higher privileges than provided by the access token.',
        scope: needed === 'read_user' ? 'api read_user' : needed,
      });
    }
  };

  const visibleProject = (id: string, caller: Caller): ProjectState => {
    const project = /^\d+$/.test(id) ? projects.find((p) => String(p.id) === id) : findProject(id);
    const member = project?.members.has(caller.user.id) === true;
    if (project === undefined || (project.visibility === 'private' && !member)) {
      throw new HttpAnswer(404, { message: '404 Project Not Found' });
    }
    return project;
  };

  const fullUser = (user: FakeGitLabUser): Json => ({
    ...userBasic(user),
    created_at: '2024-01-01T00:00:00.000Z',
    bio: '',
    location: '',
    public_email: null,
    bot: user.bot ?? false,
    email: `${user.username}@example.com`,
    is_admin: false,
  });

  const projectEntity = (project: ProjectState, level: number): Json => {
    const name = project.path.split('/').pop() ?? project.path;
    return {
      id: project.id,
      description: null,
      name,
      name_with_namespace: project.path.split('/').join(' / '),
      path: name,
      path_with_namespace: project.path,
      created_at: project.createdAt,
      default_branch: project.defaultBranch,
      web_url: `${baseUrl}/${project.path}`,
      visibility: project.visibility,
      issues_enabled: true,
      service_desk_enabled: false,
      permissions: {
        project_access: level > 0 ? { access_level: level, notification_level: 3 } : null,
        group_access: null,
      },
    };
  };

  /** GitLab's offset pagination: `page`, `per_page` (max 100) and the `X-*` headers. */
  const paged = (list: unknown[], url: URL): Reply => {
    const perPage = Math.min(100, Math.max(1, Number(url.searchParams.get('per_page') ?? 20) || 20));
    const page = Math.max(1, Number(url.searchParams.get('page') ?? 1) || 1);
    const totalPages = Math.max(1, Math.ceil(list.length / perPage));
    const headers: Record<string, string> = {
      'x-page': String(page),
      'x-per-page': String(perPage),
      'x-total': String(list.length),
      'x-total-pages': String(totalPages),
      'x-next-page': page < totalPages ? String(page + 1) : '',
      'x-prev-page': page > 1 ? String(page - 1) : '',
    };
    return json(200, list.slice((page - 1) * perPage, page * perPage), headers);
  };

  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  baseUrl = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;

  const notesOf = (path: string, iid: number): FakeNote[] => projectOrThrow(path).notes.get(iid) ?? [];
  const issueOf = (path: string, iid: number): FakeIssue => {
    const issue = projectOrThrow(path).issues.find((i) => i.iid === iid);
    if (issue === undefined) throw new Error(`fake GitLab has no issue ${path}#${iid}`);
    return issue;
  };

  return {
    url: baseUrl,
    token: firstToken.value,
    get requests() {
      return recorded.map((r) => structuredClone(r));
    },
    issues: (path) => structuredClone(projectOrThrow(path).issues),
    notes: (path, iid) => structuredClone(notesOf(path, iid)),
    uploads: (path) =>
      projectOrThrow(path).uploads.map((u) => ({
        ...u,
        entity: { ...u.entity },
        bytes: Buffer.from(u.bytes),
      })),
    seedIssue: (path, issue) => {
      const project = projectOrThrow(path);
      return structuredClone(
        buildIssue(project, firstUser, {
          title: issue.title,
          description: issue.description ?? null,
          labels: issue.labels ?? [],
          confidential: issue.confidential ?? false,
          state: issue.state ?? 'opened',
        }),
      );
    },
    seedNote: (path, iid, note) =>
      structuredClone(
        buildNote(projectOrThrow(path), issueOf(path, iid), firstUser, {
          body: note.body,
          internal: note.internal ?? false,
          system: note.system ?? false,
        }),
      ),
    setFile: (path, file, content) => {
      const files = projectOrThrow(path).files;
      if (content === undefined) files.delete(file);
      else files.set(file, content);
    },
    addToken: (token) => {
      tokens.push({ ...token, id: tokens.length + 1 });
    },
    revokeToken: (value) => {
      for (const t of tokens) if (t.value === value) t.revoked = true;
    },
    failNext: (n, fault) => {
      if (n > 0) faults.push({ fault, remaining: n });
    },
    delay: (ms, n = 1) => {
      if (n > 0) delays.push({ ms, remaining: n });
    },
    dropNext: (n) => {
      drops += n;
    },
    setLatency: (ms) => {
      latencyMs = ms;
    },
    bytesReceived: () => received,
    clearRequests: () => {
      recorded.length = 0;
    },
    close: async () => {
      for (const timer of pending) clearTimeout(timer);
      pending.clear();
      server.closeAllConnections();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
};

// --- parameters, as Grape reads them -------------------------------------------------------------

const parseParams = (raw: Buffer, contentType: string): { body: Record<string, unknown> } => {
  if (raw.length === 0 || contentType.startsWith('multipart/')) return { body: {} };
  const text = raw.toString('utf8');
  if (contentType.startsWith('application/json')) {
    try {
      const parsed: unknown = JSON.parse(text);
      if (typeof parsed === 'object' && parsed !== null && !Array.isArray(parsed)) {
        return { body: parsed as Record<string, unknown> };
      }
    } catch {
      // fall through: GitLab answers 400 for a body it cannot parse
    }
    throw new HttpAnswer(400, { error: 'The provided content-type is not supported.' });
  }
  return { body: Object.fromEntries(new URLSearchParams(text)) };
};

const stringParam = (value: unknown): string | undefined =>
  typeof value === 'string' ? value : typeof value === 'number' ? String(value) : undefined;

const boolParam = (value: unknown): boolean => value === true || value === 'true' || value === '1';

const labelsParam = (value: unknown): string[] => {
  const list = Array.isArray(value) ? value.map(String) : typeof value === 'string' ? value.split(',') : [];
  return [...new Set(list.map((l) => l.trim()).filter((l) => l !== ''))];
};

const matches = (issue: FakeIssue, search: string, fields: string[]): boolean => {
  const needle = search.toLowerCase();
  return (
    (fields.includes('title') && issue.title.toLowerCase().includes(needle)) ||
    (fields.includes('description') && (issue.description ?? '').toLowerCase().includes(needle))
  );
};

/** CarrierWave's sanitising, which GitLab's FileUploader applies: odd characters become `_`. */
const sanitizeFilename = (name: string): string => {
  const base = name.split(/[/\\]/).pop() ?? '';
  const clean = base.replace(/[^\p{L}\p{M}\p{N}\p{Pc}.\-+]/gu, '_');
  return clean === '' || /^\.+$/.test(clean) ? 'file' : clean;
};

/** Reads the `file` part of a multipart/form-data body, as Workhorse would. */
const parseMultipartFile = (
  raw: Buffer,
  contentType: string,
): { filename: string; contentType: string; bytes: Buffer } | undefined => {
  const boundary = /boundary=(?:"([^"]+)"|([^;\s]+))/i.exec(contentType);
  const token = boundary?.[1] ?? boundary?.[2];
  if (token === undefined) return undefined;
  const delimiter = Buffer.from(`--${token}`);
  let start = raw.indexOf(delimiter);
  while (start !== -1) {
    const headerStart = start + delimiter.length + 2; // skip CRLF
    if (raw.subarray(start + delimiter.length, start + delimiter.length + 2).toString() === '--')
      return undefined;
    const headerEnd = raw.indexOf('\r\n\r\n', headerStart);
    if (headerEnd === -1) return undefined;
    const next = raw.indexOf(Buffer.from(`\r\n--${token}`), headerEnd + 4);
    if (next === -1) return undefined;
    const headers = raw.subarray(headerStart, headerEnd).toString('utf8');
    const disposition = /^content-disposition:\s*(.*)$/im.exec(headers)?.[1] ?? '';
    const name = /(?:^|;)\s*name="([^"]*)"/i.exec(disposition)?.[1];
    if (name === 'file') {
      const extended = /filename\*=UTF-8''([^;\s]+)/i.exec(disposition)?.[1];
      const plain = /(?:^|;)\s*filename="([^"]*)"/i.exec(disposition)?.[1] ?? 'file';
      return {
        filename: extended === undefined ? plain : decodeURIComponent(extended),
        contentType: /^content-type:\s*(.*)$/im.exec(headers)?.[1]?.trim() ?? 'application/octet-stream',
        bytes: Buffer.from(raw.subarray(headerEnd + 4, next)),
      };
    }
    start = raw.indexOf(delimiter, next + 2);
  }
  return undefined;
};
