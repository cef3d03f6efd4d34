import { readFileSync } from 'node:fs';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import {
  ACCESS,
  FAKE_GITLAB_BOT_ID,
  FAKE_GITLAB_TEMPLATES,
  FAKE_GITLAB_TOKEN,
  type FakeGitLab,
  type FakeGitLabOptions,
  startFakeGitLab,
} from '../support/fake-gitlab.ts';

/**
 * The fake's contract: what tests built on it may rely on. Entities have exactly the keys and
 * value types of GitLab's documented examples (`test/fixtures/corpus/api/gitlab/`); statuses and
 * error bodies are GitLab's; faults happen when asked and only then.
 */

const corpus = (name: string): unknown =>
  JSON.parse(readFileSync(new URL(`../fixtures/corpus/api/gitlab/${name}`, import.meta.url), 'utf8'));

/**
 * Differences in shape: keys missing or extra at any depth, or a value of another type. `null` on
 * either side matches anything (GitLab's nullable fields: `description`, `closed_at`...).
 */
const shapeDifferences = (actual: unknown, expected: unknown, path = '$'): string[] => {
  if (actual === null || expected === null) return [];
  if (Array.isArray(expected)) {
    if (!Array.isArray(actual)) return [`${path}: expected an array`];
    const [first] = expected;
    return first === undefined
      ? []
      : actual.flatMap((item, i) => shapeDifferences(item, first, `${path}[${i}]`));
  }
  if (typeof expected === 'object') {
    if (typeof actual !== 'object' || Array.isArray(actual)) return [`${path}: expected an object`];
    const a = actual as Record<string, unknown>;
    const e = expected as Record<string, unknown>;
    const keys = new Set([...Object.keys(a), ...Object.keys(e)]);
    return [...keys].flatMap((key) => {
      if (!(key in a)) return [`${path}.${key}: missing`];
      if (!(key in e)) return [`${path}.${key}: not in GitLab's example`];
      return shapeDifferences(a[key], e[key], `${path}.${key}`);
    });
  }
  return typeof actual === typeof expected ? [] : [`${path}: ${typeof actual} instead of ${typeof expected}`];
};

let gitlab: FakeGitLab;

const restart = async (options: FakeGitLabOptions): Promise<void> => {
  await gitlab.close();
  gitlab = await startFakeGitLab(options);
};

beforeEach(async () => {
  gitlab = await startFakeGitLab();
});

afterEach(async () => {
  await gitlab.close();
});

const api = (path: string, init: RequestInit & { token?: string | null } = {}): Promise<Response> => {
  const headers = new Headers(init.headers);
  const token = init.token === undefined ? FAKE_GITLAB_TOKEN : init.token;
  if (token !== null) headers.set('PRIVATE-TOKEN', token);
  return fetch(`${gitlab.url}/api/v4${path}`, { ...init, headers });
};

const postJson = (path: string, body: unknown, token?: string): Promise<Response> =>
  api(path, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify(body),
    ...(token === undefined ? {} : { token }),
  });

describe('fake GitLab: entities match the documented examples', () => {
  it('uses the corpus files as its templates', () => {
    expect(FAKE_GITLAB_TEMPLATES.issue).toEqual(corpus('post-projects-id-issues.response.json'));
    expect(FAKE_GITLAB_TEMPLATES.note).toEqual(corpus('note-entity.single-note-example.json'));
    expect(FAKE_GITLAB_TEMPLATES.upload).toEqual(corpus('post-projects-id-uploads.response.json'));
  });

  it('POST /projects/:id/issues answers 201 with an issue shaped like the example', async () => {
    // Act
    const response = await postJson('/projects/acme%2Fgame/issues', {
      title: 'Issues with auth',
      labels: 'bug,support',
      description: 'text',
      confidential: true,
    });
    const issue = (await response.json()) as Record<string, unknown>;
    // Assess
    expect(response.status).toBe(201);
    expect(response.headers.get('content-type')).toBe('application/json');
    expect(shapeDifferences(issue, corpus('post-projects-id-issues.response.json'))).toEqual([]);
    expect(issue).toMatchObject({
      iid: 1,
      project_id: 1,
      title: 'Issues with auth',
      description: 'text',
      labels: ['bug', 'support'],
      confidential: true,
      state: 'opened',
      web_url: `${gitlab.url}/acme/game/-/issues/1`,
      references: { short: '#1', relative: '#1', full: 'acme/game#1' },
      author: { id: FAKE_GITLAB_BOT_ID, username: 'postdesk-bot' },
    });
  });

  it('POST /projects/:id/uploads answers 201 with the upload entity', async () => {
    // Prepare
    const form = new FormData();
    form.set('file', new Blob([Buffer.from('PNGDATA')], { type: 'image/png' }), 'dk.png');
    // Act
    const response = await api('/projects/acme%2Fgame/uploads', { method: 'POST', body: form });
    const upload = (await response.json()) as Record<string, string>;
    // Assess
    expect(response.status).toBe(201);
    expect(shapeDifferences(upload, corpus('post-projects-id-uploads.response.json'))).toEqual([]);
    expect(upload['url']).toMatch(/^\/uploads\/[0-9a-f]{32}\/dk\.png$/);
    expect(upload['full_path']).toBe(`/-/project/1${upload['url']}`);
    expect(upload['alt']).toBe('dk');
    expect(upload['markdown']).toBe(`![dk](${upload['url']})`);
    expect(gitlab.uploads('acme/game')[0]?.bytes.toString()).toBe('PNGDATA');
  });

  it('links a non-image upload without `!` and keeps its extension in the text', async () => {
    const form = new FormData();
    form.set('file', new Blob(['x'], { type: 'application/pdf' }), 'my report.pdf');
    const upload = (await (
      await api('/projects/acme%2Fgame/uploads', { method: 'POST', body: form })
    ).json()) as {
      markdown: string;
    };
    expect(upload.markdown).toMatch(/^\[my_report\.pdf\]\(\/uploads\/[0-9a-f]{32}\/my_report\.pdf\)$/);
  });

  it('notes: 201 on create, list newest first, both shaped like the examples', async () => {
    // Prepare
    gitlab.seedIssue('acme/game', { title: 'x' });
    // Act
    const created = await postJson('/projects/acme%2Fgame/issues/1/notes', { body: 'first', internal: true });
    await postJson('/projects/acme%2Fgame/issues/1/notes', { body: 'second' });
    const listed = await api('/projects/acme%2Fgame/issues/1/notes');
    const list = (await listed.json()) as Record<string, unknown>[];
    // Assess
    expect(created.status).toBe(201);
    const note = (await created.json()) as Record<string, unknown>;
    expect(shapeDifferences(note, corpus('note-entity.single-note-example.json'))).toEqual([]);
    expect(note).toMatchObject({
      body: 'first',
      internal: true,
      confidential: true,
      system: false,
      noteable_iid: 1,
    });
    expect(shapeDifferences(list, corpus('get-projects-id-issues-iid-notes.response.json'))).toEqual([]);
    expect(list.map((n) => n['body'])).toEqual(['second', 'first']);
    expect(gitlab.issues('acme/game')[0]?.user_notes_count).toBe(2);
  });
});

describe('fake GitLab: statuses and errors as GitLab sends them', () => {
  it('401 {"message":"401 Unauthorized"} without a token, with a wrong one and with a revoked one', async () => {
    // Prepare
    gitlab.addToken({ value: 'glpat-to-revoke-000000', userId: FAKE_GITLAB_BOT_ID });
    gitlab.revokeToken('glpat-to-revoke-000000');
    // Act
    const answers = await Promise.all([
      api('/user', { token: null }),
      api('/user', { token: 'glpat-wrong' }),
      api('/user', { token: 'glpat-to-revoke-000000' }),
    ]);
    // Assess
    for (const answer of answers) {
      expect(answer.status).toBe(401);
      expect(await answer.json()).toEqual({ message: '401 Unauthorized' });
    }
  });

  it('404 {"message":"404 Project Not Found"} for an unknown project and a private one the bot is not in', async () => {
    // Prepare
    await restart({ projects: [{ path: 'acme/game' }, { path: 'acme/secret', members: {} }] });
    // Act
    const unknown = await api('/projects/acme%2Fnope/issues');
    const hidden = await api('/projects/acme%2Fsecret');
    // Assess
    expect(unknown.status).toBe(404);
    expect(await unknown.json()).toEqual({ message: '404 Project Not Found' });
    expect(hidden.status).toBe(404);
    expect(await hidden.json()).toEqual({ message: '404 Project Not Found' });
  });

  it('404s name what is missing: issue, file, member; an unencoded project path is no route', async () => {
    expect(await (await api('/projects/acme%2Fgame/issues/42')).json()).toEqual({ message: '404 Not found' });
    expect(await (await api('/projects/acme%2Fgame/repository/files/x.md/raw?ref=HEAD')).json()).toEqual({
      message: '404 File Not Found',
    });
    expect(await (await api('/projects/acme%2Fgame/members/all/999')).json()).toEqual({
      message: '404 Not found',
    });
    expect((await api('/projects/acme/game/issues')).status).toBe(404);
  });

  it('a project is found by numeric id and by path, case-insensitively', async () => {
    expect((await api('/projects/1')).status).toBe(200);
    expect(
      ((await (await api('/projects/ACME%2FGame')).json()) as { path_with_namespace: string })
        .path_with_namespace,
    ).toBe('acme/game');
  });

  it('400 for a missing title or body, as Grape words it', async () => {
    gitlab.seedIssue('acme/game', { title: 'x' });
    const noTitle = await postJson('/projects/acme%2Fgame/issues', { description: 'd' });
    const noBody = await postJson('/projects/acme%2Fgame/issues/1/notes', {});
    expect(noTitle.status).toBe(400);
    expect(await noTitle.json()).toEqual({ error: 'title is missing' });
    expect(await noBody.json()).toEqual({ error: 'body is missing' });
  });

  it('403 insufficient_scope for a read_api token that writes; reads still work', async () => {
    // Prepare
    await restart({
      tokens: [{ value: 'glpat-ro-1111111111', userId: FAKE_GITLAB_BOT_ID, scopes: ['read_api'] }],
    });
    // Act
    const write = await postJson('/projects/acme%2Fgame/issues', { title: 't' }, 'glpat-ro-1111111111');
    const read = await api('/projects/acme%2Fgame/issues', { token: 'glpat-ro-1111111111' });
    // Assess
    expect(write.status).toBe(403);
    expect(await write.json()).toMatchObject({ error: 'insufficient_scope', scope: 'api' });
    expect(read.status).toBe(200);
  });

  it('roles: hooks need Maintainer, internal notes need Reporter', async () => {
    // Prepare
    await restart({ projects: [{ path: 'acme/game', members: { [FAKE_GITLAB_BOT_ID]: ACCESS.guest } }] });
    gitlab.seedIssue('acme/game', { title: 'x' });
    // Act
    const hooks = await api('/projects/acme%2Fgame/hooks');
    const internal = await postJson('/projects/acme%2Fgame/issues/1/notes', { body: 'b', internal: true });
    const publicNote = await postJson('/projects/acme%2Fgame/issues/1/notes', { body: 'b' });
    // Assess
    expect(hooks.status).toBe(403);
    expect(await hooks.json()).toEqual({ message: '403 Forbidden' });
    expect(internal.status).toBe(403);
    expect(publicNote.status).toBe(201);
  });

  it('/user, /personal_access_tokens/self and /members/all/:id describe the bot', async () => {
    const user = (await (await api('/user')).json()) as Record<string, unknown>;
    const token = (await (await api('/personal_access_tokens/self')).json()) as Record<string, unknown>;
    const member = (await (
      await api(`/projects/acme%2Fgame/members/all/${FAKE_GITLAB_BOT_ID}`)
    ).json()) as Record<string, unknown>;
    expect(user).toMatchObject({
      id: FAKE_GITLAB_BOT_ID,
      username: 'postdesk-bot',
      bot: true,
      state: 'active',
    });
    expect(token).toMatchObject({
      scopes: ['api'],
      active: true,
      revoked: false,
      user_id: FAKE_GITLAB_BOT_ID,
    });
    expect(member).toMatchObject({ id: FAKE_GITLAB_BOT_ID, access_level: ACCESS.developer });
  });
});

describe('fake GitLab: searching and paging', () => {
  it('search with in=description is a case-insensitive substring of the description only', async () => {
    gitlab.seedIssue('acme/game', { title: 'marker-123 in title', description: 'no' });
    gitlab.seedIssue('acme/game', { title: 'b', description: 'has MARKER-123 here' });
    const found = (await (
      await api('/projects/acme%2Fgame/issues?search=marker-123&in=description')
    ).json()) as {
      title: string;
    }[];
    expect(found.map((i) => i.title)).toEqual(['b']);
  });

  it('pages with per_page (max 100) and the X-* headers', async () => {
    // Prepare
    for (let i = 0; i < 130; i++) gitlab.seedIssue('acme/game', { title: `#${i}` });
    // Act
    const first = await api('/projects/acme%2Fgame/issues?per_page=500');
    const second = await api('/projects/acme%2Fgame/issues?per_page=100&page=2');
    // Assess
    expect(((await first.json()) as unknown[]).length).toBe(100);
    expect(first.headers.get('x-next-page')).toBe('2');
    expect(first.headers.get('x-total')).toBe('130');
    expect(first.headers.get('x-total-pages')).toBe('2');
    expect(((await second.json()) as unknown[]).length).toBe(30);
    expect(second.headers.get('x-next-page')).toBe('');
  });

  it('serves repository files at HEAD or the default branch, raw', async () => {
    gitlab.setFile('acme/game', 'docs/a b.md', '# A');
    const raw = await api('/projects/acme%2Fgame/repository/files/docs%2Fa%20b.md/raw?ref=main');
    expect(raw.status).toBe(200);
    expect(raw.headers.get('content-type')).toBe('text/plain; charset=utf-8');
    expect(await raw.text()).toBe('# A');
    expect((await api('/projects/acme%2Fgame/repository/files/docs%2Fa%20b.md/raw?ref=nope')).status).toBe(
      404,
    );
  });
});

describe('fake GitLab: faults on demand, and the record of requests', () => {
  it('failNext(n) fails exactly the next n requests, with Retry-After', async () => {
    // Prepare
    gitlab.failNext(2, { status: 429, retryAfter: 7 });
    // Act
    const statuses: number[] = [];
    const first = await api('/user');
    statuses.push(first.status, (await api('/user')).status, (await api('/user')).status);
    // Assess
    expect(statuses).toEqual([429, 429, 200]);
    expect(first.headers.get('retry-after')).toBe('7');
    expect(await first.text()).toBe('Retry later\n');
  });

  it('failNext with 5xx answers GitLab-style JSON', async () => {
    gitlab.failNext(1, { status: 500 });
    const answer = await api('/user');
    expect(answer.status).toBe(500);
    expect(await answer.json()).toEqual({ message: '500 Internal Server Error' });
  });

  it('dropNext(n) destroys the socket', async () => {
    gitlab.dropNext(1);
    await expect(api('/user')).rejects.toThrow();
    expect((await api('/user')).status).toBe(200);
    expect(gitlab.requests.map((r) => r.status)).toEqual(['dropped', 200]);
  });

  it('delay(ms) slows one answer; setLatency(ms) slows them all', async () => {
    // Prepare
    gitlab.delay(300);
    // Act
    let started = Date.now();
    await api('/user');
    const delayed = Date.now() - started;
    started = Date.now();
    await api('/user');
    const normal = Date.now() - started;
    gitlab.setLatency(100);
    started = Date.now();
    await Promise.all([api('/user'), api('/user')]);
    const latent = Date.now() - started;
    // Assess
    expect(delayed).toBeGreaterThanOrEqual(290);
    expect(normal).toBeLessThan(delayed - 100);
    expect(latent).toBeGreaterThanOrEqual(90);
  });

  it('records method, path, headers without the token, body and body size', async () => {
    // Act
    await postJson('/projects/acme%2Fgame/issues', { title: 'T' });
    // Assess
    const [request] = gitlab.requests;
    expect(request).toMatchObject({
      method: 'POST',
      path: '/api/v4/projects/acme%2Fgame/issues',
      body: { title: 'T' },
      bodySize: JSON.stringify({ title: 'T' }).length,
      status: 201,
    });
    expect(request?.headers['private-token']).toBeUndefined();
    expect(JSON.stringify(gitlab.requests)).not.toContain(FAKE_GITLAB_TOKEN);
    gitlab.clearRequests();
    expect(gitlab.requests).toEqual([]);
  });

  it('accepts form-encoded bodies too, as GitLab does', async () => {
    const answer = await api('/projects/acme%2Fgame/issues', {
      method: 'POST',
      headers: { 'content-type': 'application/x-www-form-urlencoded' },
      body: 'title=From+a+form&confidential=true',
    });
    expect(answer.status).toBe(201);
    expect(gitlab.issues('acme/game')[0]).toMatchObject({ title: 'From a form', confidential: true });
  });

  it('reopen and close through PUT state_event', async () => {
    gitlab.seedIssue('acme/game', { title: 'x' });
    const put = (event: string): Promise<Response> =>
      api('/projects/acme%2Fgame/issues/1', {
        method: 'PUT',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify({ state_event: event }),
      });
    expect(((await (await put('close')).json()) as { state: string }).state).toBe('closed');
    expect(((await (await put('reopen')).json()) as { state: string }).state).toBe('opened');
  });
});
