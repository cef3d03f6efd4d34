import http from 'node:http';
import type { AddressInfo } from 'node:net';

/**
 * A Forgejo API v1 on loopback, answering with the shapes and statuses of Forgejo's swagger
 * (`/api/swagger`: Issue, Comment, Label, Attachment; 401 `{"message":"token is required"}`, 404
 * `{"message":"The target couldn't be found."}`). It checks `Authorization: token …`, records every
 * request, and injects faults: a status (with Retry-After), a slow answer, a dropped connection.
 */
export const FAKE_FORGEJO_TOKEN = 'fgj-test-token-0123456789';

export interface RecordedRequest {
  method: string;
  path: string;
  query: URLSearchParams;
  authorization: string | undefined;
  contentType: string | undefined;
  body: Buffer;
}

export interface Fault {
  /** Applies to requests whose `METHOD path` matches. */
  match: RegExp;
  status?: number;
  retryAfter?: string;
  /** Milliseconds before answering. */
  delayMs?: number;
  /** Destroy the socket without answering. */
  drop?: boolean;
  /** How many matching requests it hits. @default 1 */
  times?: number;
  /** Let the request take effect before failing (the forge acted, then the answer was lost). */
  afterEffect?: boolean;
}

interface Issue {
  id: number;
  number: number;
  title: string;
  body: string;
  state: 'open' | 'closed';
  labels: number[];
  comments: { id: number; body: string }[];
}

export interface FakeForgejo {
  url: string;
  requests: RecordedRequest[];
  faults: Fault[];
  issues: Issue[];
  labels: { id: number; name: string; color: string }[];
  files: Map<string, string>;
  attachments: { issue: number; name: string; bytes: Buffer; contentType: string }[];
  close(): Promise<void>;
}

const json = (
  res: http.ServerResponse,
  status: number,
  body: unknown,
  headers: Record<string, string> = {},
) => {
  const text = JSON.stringify(body);
  res.writeHead(status, { 'content-type': 'application/json;charset=utf-8', ...headers });
  res.end(text);
};

/** The multipart part named `attachment`: its filename, type and bytes. */
const multipartPart = (body: Buffer, contentType: string) => {
  const boundary = /boundary=("?)([^";]+)\1/.exec(contentType)?.[2];
  if (boundary === undefined) return undefined;
  const text = body.toString('latin1');
  for (const part of text.split(`--${boundary}`)) {
    const end = part.indexOf('\r\n\r\n');
    if (end < 0) continue;
    const head = part.slice(0, end);
    if (!/name="attachment"/.test(head)) continue;
    const filename = /filename="([^"]*)"/.exec(head)?.[1] ?? '';
    const type = /content-type:\s*([^\r\n]+)/i.exec(head)?.[1] ?? 'application/octet-stream';
    const content = part.slice(end + 4, part.length - 2);
    return { filename, type, bytes: Buffer.from(content, 'latin1') };
  }
  return undefined;
};

export const startFakeForgejo = async (): Promise<FakeForgejo> => {
  let nextId = 100;
  const state: Omit<FakeForgejo, 'url' | 'close'> = {
    requests: [],
    faults: [],
    issues: [],
    labels: [
      { id: 7, name: 'support', color: '00aabb' },
      { id: 9, name: 'bug', color: 'ee0701' },
    ],
    files: new Map([['.postdesk/templates/thanks.md', 'Thank you!\n']]),
    attachments: [],
  };
  const base = '/api/v1/repos/acme/game';
  let origin = '';

  const issueJson = (issue: Issue) => ({
    id: issue.id,
    url: `${origin}${base}/issues/${issue.number}`,
    html_url: `${origin}/acme/game/issues/${issue.number}`,
    number: issue.number,
    user: { id: 1, login: 'desk-bot', full_name: '' },
    original_author: '',
    title: issue.title,
    body: issue.body,
    ref: '',
    labels: issue.labels.map((id) => state.labels.find((l) => l.id === id)),
    milestone: null,
    assignee: null,
    assignees: null,
    state: issue.state,
    is_locked: false,
    comments: issue.comments.length,
    created_at: '2026-12-02T10:00:00Z',
    updated_at: '2026-12-02T10:00:00Z',
    closed_at: null,
    due_date: null,
    pull_request: null,
    repository: { id: 3, name: 'game', owner: 'acme', full_name: 'acme/game' },
  });

  const handle = (req: http.IncomingMessage, res: http.ServerResponse, body: Buffer) => {
    const url = new URL(req.url ?? '/', 'http://fake');
    const method = req.method ?? 'GET';
    const path = url.pathname;
    const find = (n: string) => state.issues.find((i) => i.number === Number(n));
    if (method === 'POST' && path === `${base}/issues`) {
      const input = JSON.parse(body.toString('utf8')) as { title?: string; body?: string; labels?: number[] };
      if (!input.title) return json(res, 422, { message: '[Title]: Required', url: origin });
      if ((input.labels ?? []).some((id) => !state.labels.some((l) => l.id === id))) {
        return json(res, 422, { message: 'label does not exist', url: origin });
      }
      const issue: Issue = {
        id: nextId++,
        number: state.issues.length + 1,
        title: input.title,
        body: input.body ?? '',
        state: 'open',
        labels: input.labels ?? [],
        comments: [],
      };
      state.issues.push(issue);
      return json(res, 201, issueJson(issue));
    }
    if (method === 'GET' && path === `${base}/issues`) {
      const page = Number(url.searchParams.get('page') ?? '1');
      const limit = Number(url.searchParams.get('limit') ?? '30');
      const all = [...state.issues].reverse();
      const slice = all.slice((page - 1) * limit, page * limit);
      return json(res, 200, slice.map(issueJson), { 'x-total-count': String(all.length) });
    }
    if (method === 'GET' && path === base) {
      return json(res, 200, { id: 3, name: 'game', full_name: 'acme/game', private: true, has_issues: true });
    }
    if (method === 'GET' && path === `${base}/labels`) return json(res, 200, state.labels);
    let m = new RegExp(`^${base}/issues/(\\d+)$`).exec(path);
    if (m?.[1] !== undefined) {
      const issue = find(m[1]);
      if (issue === undefined) return json(res, 404, { errors: null, message: 'not found', url: origin });
      if (method === 'PATCH') {
        const input = JSON.parse(body.toString('utf8')) as { state?: 'open' | 'closed' };
        if (input.state !== undefined) issue.state = input.state;
        return json(res, 201, issueJson(issue));
      }
      return json(res, 200, issueJson(issue));
    }
    m = new RegExp(`^${base}/issues/(\\d+)/comments$`).exec(path);
    if (m?.[1] !== undefined) {
      const issue = find(m[1]);
      if (issue === undefined) return json(res, 404, { errors: null, message: 'not found', url: origin });
      if (method === 'POST') {
        const input = JSON.parse(body.toString('utf8')) as { body: string };
        const comment = { id: nextId++, body: input.body };
        issue.comments.push(comment);
        return json(res, 201, {
          ...comment,
          html_url: `${origin}/acme/game/issues/${issue.number}#issuecomment-${comment.id}`,
          user: { id: 1, login: 'desk-bot' },
          created_at: '2026-12-02T10:00:00Z',
          updated_at: '2026-12-02T10:00:00Z',
        });
      }
      return json(
        res,
        200,
        issue.comments.map((c) => ({ ...c, user: { id: 1, login: 'desk-bot' } })),
      );
    }
    m = new RegExp(`^${base}/issues/(\\d+)/assets$`).exec(path);
    if (m?.[1] !== undefined && method === 'POST') {
      const issue = find(m[1]);
      if (issue === undefined) return json(res, 404, { errors: null, message: 'not found', url: origin });
      const part = multipartPart(body, req.headers['content-type'] ?? '');
      if (part === undefined) return json(res, 400, { message: 'attachment is required' });
      const name = url.searchParams.get('name') ?? part.filename;
      const uuid = `uuid-${nextId++}`;
      state.attachments.push({ issue: issue.number, name, bytes: part.bytes, contentType: part.type });
      return json(res, 201, {
        id: nextId++,
        name,
        size: part.bytes.length,
        download_count: 0,
        created_at: '2026-12-02T10:00:00Z',
        uuid,
        browser_download_url: `${origin}/attachments/${uuid}`,
      });
    }
    if (method === 'GET' && path.startsWith(`${base}/raw/`)) {
      const file = state.files.get(decodeURIComponent(path.slice(`${base}/raw/`.length)));
      if (file === undefined) return json(res, 404, { errors: null, message: 'not found', url: origin });
      res.writeHead(200, { 'content-type': 'text/plain; charset=utf-8' });
      res.end(file);
      return;
    }
    json(res, 404, { errors: null, message: 'not found', url: origin });
  };

  const server = http.createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      const body = Buffer.concat(chunks);
      const url = new URL(req.url ?? '/', 'http://fake');
      state.requests.push({
        method: req.method ?? '',
        path: url.pathname,
        query: url.searchParams,
        authorization: req.headers.authorization,
        contentType: req.headers['content-type'],
        body,
      });
      if (req.headers.authorization !== `token ${FAKE_FORGEJO_TOKEN}`) {
        return json(res, 401, { message: 'token is required', url: origin });
      }
      const key = `${req.method} ${url.pathname}`;
      const fault = state.faults.find((f) => f.match.test(key) && (f.times ?? 1) > 0);
      if (fault === undefined) return handle(req, res, body);
      fault.times = (fault.times ?? 1) - 1;
      const act = () => {
        if (fault.drop) {
          if (fault.afterEffect) handle(req, new http.ServerResponse(req), body);
          req.socket.destroy();
          return;
        }
        if (fault.status !== undefined) {
          if (fault.afterEffect) handle(req, new http.ServerResponse(req), body);
          const headers: Record<string, string> = {};
          if (fault.retryAfter !== undefined) headers['retry-after'] = fault.retryAfter;
          return json(res, fault.status, { message: 'injected fault' }, headers);
        }
        handle(req, res, body);
      };
      if (fault.delayMs !== undefined) setTimeout(act, fault.delayMs);
      else act();
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  origin = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  return {
    ...state,
    get url() {
      return origin;
    },
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  } as FakeForgejo;
};
