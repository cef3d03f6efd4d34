import { verify } from 'node:crypto';
import http from 'node:http';
import type { AddressInfo } from 'node:net';

/**
 * A GitHub REST API (2022-11-28) on loopback, answering with the shapes and statuses of
 * docs.github.com/rest/issues (issue, issue comment), /rest/repos/contents (raw media type) and
 * /rest/apps/apps#create-an-installation-access-token (201 `{token, expires_at}`). 401 is
 * `{"message":"Bad credentials","documentation_url":…,"status":"401"}`. It checks the bearer token
 * (a fine-grained token, or an installation token it issued for an RS256 JWT signed by the app's
 * key), records requests and injects faults.
 */
export const FAKE_GITHUB_TOKEN = 'github_pat_test_0123456789';

export interface GitHubFault {
  match: RegExp;
  status?: number;
  headers?: Record<string, string>;
  message?: string;
  drop?: boolean;
  delayMs?: number;
  times?: number;
  afterEffect?: boolean;
}

export interface GitHubRecorded {
  method: string;
  path: string;
  query: URLSearchParams;
  authorization: string | undefined;
  accept: string | undefined;
  apiVersion: string | undefined;
  body: string;
}

interface Issue {
  id: number;
  number: number;
  title: string;
  body: string;
  state: 'open' | 'closed';
  labels: string[];
  creator: string;
  createdAt: string;
  comments: { id: number; body: string }[];
}

export interface FakeGitHub {
  url: string;
  requests: GitHubRecorded[];
  faults: GitHubFault[];
  issues: Issue[];
  files: Map<string, string>;
  /** Installation tokens issued, in order. */
  issuedTokens: string[];
  close(): Promise<void>;
}

export interface FakeGitHubOptions {
  /** The app's public key (PEM): enables the installation-token endpoint. */
  appPublicKey?: string;
  appId?: string;
  /** Lifetime of installation tokens in ms. @default 1 hour */
  tokenLifetimeMs?: number;
  now?: () => number;
}

const send = (
  res: http.ServerResponse,
  status: number,
  body: unknown,
  headers: Record<string, string> = {},
) => {
  res.writeHead(status, { 'content-type': 'application/json; charset=utf-8', ...headers });
  res.end(JSON.stringify(body));
};

export const startFakeGitHub = async (options: FakeGitHubOptions = {}): Promise<FakeGitHub> => {
  const now = options.now ?? Date.now;
  let nextId = 1000;
  const tokens = new Map<string, number>([[FAKE_GITHUB_TOKEN, Number.POSITIVE_INFINITY]]);
  const fake: Omit<FakeGitHub, 'url' | 'close'> = {
    requests: [],
    faults: [],
    issues: [],
    files: new Map([['.postdesk/templates/thanks.md', 'Thanks!\n']]),
    issuedTokens: [],
  };
  let origin = '';
  const base = '/repos/acme/game';
  const docs = 'https://docs.github.com/rest';
  const issueJson = (i: Issue) => ({
    id: i.id,
    node_id: `I_${i.id}`,
    url: `${origin}${base}/issues/${i.number}`,
    html_url: `https://github.com/acme/game/issues/${i.number}`,
    number: i.number,
    state: i.state,
    title: i.title,
    body: i.body,
    user: { login: i.creator, id: 1, type: 'Bot' },
    labels: i.labels.map((name, n) => ({ id: n + 1, name, color: 'ededed', default: false })),
    assignee: null,
    assignees: [],
    locked: false,
    comments: i.comments.length,
    created_at: i.createdAt,
    updated_at: i.createdAt,
    closed_at: null,
    author_association: 'NONE',
  });

  const jwtValid = (jwt: string): boolean => {
    const [head, body, sig] = jwt.split('.');
    if (head === undefined || body === undefined || sig === undefined || options.appPublicKey === undefined)
      return false;
    const claims = JSON.parse(Buffer.from(body, 'base64url').toString()) as {
      iss?: string;
      exp?: number;
      iat?: number;
    };
    const nowS = Math.floor(now() / 1000);
    return (
      verify('sha256', Buffer.from(`${head}.${body}`), options.appPublicKey, Buffer.from(sig, 'base64url')) &&
      claims.iss === options.appId &&
      (claims.exp ?? 0) > nowS &&
      (claims.exp ?? 0) - (claims.iat ?? 0) <= 600
    );
  };

  const handle = (req: http.IncomingMessage, res: http.ServerResponse, body: string, url: URL) => {
    const method = req.method ?? 'GET';
    const path = url.pathname;
    const auth = req.headers.authorization ?? '';
    const find = (n: string) => fake.issues.find((i) => i.number === Number(n));
    const installation = /^\/app\/installations\/(\d+)\/access_tokens$/.exec(path);
    if (installation !== null && method === 'POST') {
      if (!auth.startsWith('Bearer ') || !jwtValid(auth.slice(7))) {
        return send(res, 401, { message: 'A JSON web token could not be decoded', documentation_url: docs });
      }
      const token = `ghs_${nextId++}`;
      const expires = now() + (options.tokenLifetimeMs ?? 3_600_000);
      tokens.set(token, expires);
      fake.issuedTokens.push(token);
      return send(res, 201, {
        token,
        expires_at: new Date(expires).toISOString(),
        permissions: { issues: 'write' },
      });
    }
    const bearer = auth.startsWith('Bearer ') ? auth.slice(7) : '';
    if ((tokens.get(bearer) ?? 0) <= now()) {
      return send(res, 401, { message: 'Bad credentials', documentation_url: docs, status: '401' });
    }
    if (method === 'GET' && path === base) {
      return send(res, 200, { id: 3, name: 'game', full_name: 'acme/game', private: true, has_issues: true });
    }
    if (method === 'POST' && path === `${base}/issues`) {
      const input = JSON.parse(body) as { title?: string; body?: string; labels?: string[] };
      if (!input.title) return send(res, 422, { message: 'Validation Failed', errors: [{ field: 'title' }] });
      const issue: Issue = {
        id: nextId++,
        number: fake.issues.length + 1,
        title: input.title,
        body: input.body ?? '',
        state: 'open',
        labels: input.labels ?? [],
        creator: 'postdesk[bot]',
        createdAt: new Date(now()).toISOString(),
        comments: [],
      };
      fake.issues.push(issue);
      return send(res, 201, issueJson(issue));
    }
    if (method === 'GET' && path === `${base}/issues`) {
      const creator = url.searchParams.get('creator');
      const since = url.searchParams.get('since');
      const perPage = Number(url.searchParams.get('per_page') ?? '30');
      const page = Number(url.searchParams.get('page') ?? '1');
      const all = [...fake.issues]
        .reverse()
        .filter((i) => creator === null || i.creator === creator)
        .filter((i) => since === null || i.createdAt >= since);
      return send(res, 200, all.slice((page - 1) * perPage, page * perPage).map(issueJson));
    }
    let m = new RegExp(`^${base}/issues/(\\d+)$`).exec(path);
    if (m?.[1] !== undefined) {
      const issue = find(m[1]);
      if (issue === undefined)
        return send(res, 404, { message: 'Not Found', documentation_url: docs, status: '404' });
      if (method === 'PATCH') {
        const input = JSON.parse(body) as { state?: 'open' | 'closed' };
        if (input.state !== undefined) issue.state = input.state;
      }
      return send(res, 200, issueJson(issue));
    }
    m = new RegExp(`^${base}/issues/(\\d+)/comments$`).exec(path);
    if (m?.[1] !== undefined) {
      const issue = find(m[1]);
      if (issue === undefined)
        return send(res, 404, { message: 'Not Found', documentation_url: docs, status: '404' });
      if (method === 'POST') {
        const comment = { id: nextId++, body: (JSON.parse(body) as { body: string }).body };
        issue.comments.push(comment);
        return send(res, 201, { ...comment, user: { login: 'postdesk[bot]', type: 'Bot' } });
      }
      const perPage = Number(url.searchParams.get('per_page') ?? '30');
      const page = Number(url.searchParams.get('page') ?? '1');
      return send(res, 200, issue.comments.slice((page - 1) * perPage, page * perPage));
    }
    if (method === 'GET' && path.startsWith(`${base}/contents/`)) {
      const file = fake.files.get(decodeURIComponent(path.slice(`${base}/contents/`.length)));
      if (file === undefined)
        return send(res, 404, { message: 'Not Found', documentation_url: docs, status: '404' });
      if (req.headers.accept !== 'application/vnd.github.raw+json') {
        return send(res, 200, {
          type: 'file',
          encoding: 'base64',
          content: Buffer.from(file).toString('base64'),
        });
      }
      res.writeHead(200, { 'content-type': 'application/vnd.github.raw; charset=utf-8' });
      res.end(file);
      return;
    }
    send(res, 404, { message: 'Not Found', documentation_url: docs, status: '404' });
  };

  const server = http.createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      const body = Buffer.concat(chunks).toString('utf8');
      const url = new URL(req.url ?? '/', 'http://fake');
      fake.requests.push({
        method: req.method ?? '',
        path: url.pathname,
        query: url.searchParams,
        authorization: req.headers.authorization,
        accept: req.headers.accept,
        apiVersion: req.headers['x-github-api-version'] as string | undefined,
        body,
      });
      const key = `${req.method} ${url.pathname}`;
      const fault = fake.faults.find((f) => f.match.test(key) && (f.times ?? 1) > 0);
      if (fault === undefined) return handle(req, res, body, url);
      fault.times = (fault.times ?? 1) - 1;
      const act = () => {
        if (fault.afterEffect) handle(req, new http.ServerResponse(req), body, url);
        if (fault.drop) return req.socket.destroy();
        if (fault.status !== undefined) {
          return send(
            res,
            fault.status,
            { message: fault.message ?? 'Server Error', documentation_url: docs },
            fault.headers,
          );
        }
        handle(req, res, body, url);
      };
      if (fault.delayMs !== undefined) setTimeout(act, fault.delayMs);
      else act();
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  origin = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  return {
    ...fake,
    url: origin,
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
};
