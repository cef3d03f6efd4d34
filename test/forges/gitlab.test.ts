import { createHash } from 'node:crypto';
import { createServer } from 'node:net';
import { PassThrough, Readable } from 'node:stream';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import {
  contentDispositionFilename,
  createGitLabAdmin,
  createGitLabForge,
  type GitLabForgeOptions,
  parseRetryAfter,
} from '../../adapters/forges/gitlab/index.ts';
import { PermanentError, PostdeskError, TransientError } from '../../core/errors.ts';
import type { Logger } from '../../core/ports.ts';
import {
  ACCESS,
  FAKE_GITLAB_BOT_ID,
  FAKE_GITLAB_TOKEN,
  type FakeGitLab,
  type FakeGitLabOptions,
  startFakeGitLab,
} from '../support/fake-gitlab.ts';

const project = { path: 'acme/game' };
const MiB = 1024 * 1024;

let gitlab: FakeGitLab;

const start = async (options?: FakeGitLabOptions): Promise<FakeGitLab> => {
  await gitlab.close();
  gitlab = await startFakeGitLab(options);
  return gitlab;
};

beforeEach(async () => {
  gitlab = await startFakeGitLab();
});

afterEach(async () => {
  await gitlab.close();
});

interface Harness {
  forge: ReturnType<typeof createGitLabForge>;
  /** Every backoff the adapter asked for, instead of sleeping. */
  waits: number[];
  logs: { level: string; message: string; fields: Record<string, unknown> | undefined }[];
}

const harness = (overrides: Partial<GitLabForgeOptions> = {}): Harness => {
  const waits: number[] = [];
  const logs: Harness['logs'] = [];
  const record =
    (level: string) =>
    (message: string, fields?: Record<string, unknown>): void => {
      logs.push({ level, message, fields });
    };
  const logger: Logger = {
    debug: record('debug'),
    info: record('info'),
    warn: record('warn'),
    error: record('error'),
  };
  const forge = createGitLabForge({
    url: gitlab.url,
    token: async () => gitlab.token,
    timeoutMs: 2_000,
    retry: {
      sleep: async (ms) => {
        waits.push(ms);
      },
      random: () => 0.5,
    },
    logger,
    ...overrides,
  });
  return { forge, waits, logs };
};

const failureOf = async (work: Promise<unknown>): Promise<PostdeskError> => {
  try {
    await work;
  } catch (error) {
    if (error instanceof PostdeskError) return error;
    throw error;
  }
  throw new Error('expected the call to fail');
};

/** Every message in an error's cause chain, to prove no secret hides in one. */
const chainText = (error: unknown): string => {
  const parts: string[] = [];
  let current: unknown = error;
  while (current instanceof Error) {
    parts.push(current.message, String(current.stack));
    current = current.cause;
  }
  return parts.join('\n');
};

/**
 * Deterministic bytes in 64 KiB chunks. With `gate`, production stops after `gate.at` bytes until
 * `gate.open()` says so: if the adapter buffered the file before sending, the gate never opens.
 */
const patterned = (size: number, gate?: { at: number; open: () => boolean }) => {
  const hash = createHash('sha256');
  let produced = 0;
  const stream = Readable.from(
    (async function* () {
      while (produced < size) {
        if (gate !== undefined && produced >= gate.at) {
          const deadline = Date.now() + 5_000;
          while (!gate.open()) {
            if (Date.now() > deadline) throw new Error('the upload was not streamed: nothing reached GitLab');
            await new Promise((resolve) => setTimeout(resolve, 5));
          }
        }
        const length = Math.min(64 * 1024, size - produced);
        const chunk = Buffer.alloc(length);
        for (let i = 0; i < length; i++) chunk[i] = (produced + i) % 251;
        produced += length;
        hash.update(chunk);
        yield chunk;
      }
    })(),
  );
  return { stream, digest: () => hash.digest('hex'), produced: () => produced };
};

const sha256 = (bytes: Buffer): string => createHash('sha256').update(bytes).digest('hex');

describe('GitLab forge: the happy paths', () => {
  it('creates an issue with a JSON body and maps the 201 answer', async () => {
    // Prepare
    const { forge } = harness();
    // Act
    const issue = await forge.createIssue(project, {
      title: 'Printer on fire',
      description: 'It smokes.\n\n<!-- postdesk:m-0123456789 -->',
      labels: ['support', 'email'],
      confidential: true,
    });
    // Assess
    expect(issue).toEqual({
      iid: 1,
      id: expect.any(Number),
      title: 'Printer on fire',
      state: 'opened',
      webUrl: `${gitlab.url}/acme/game/-/issues/1`,
      confidential: true,
      labels: ['support', 'email'],
      assignees: [],
    });
    const [request] = gitlab.requests;
    expect(request?.method).toBe('POST');
    expect(request?.path).toBe('/api/v4/projects/acme%2Fgame/issues');
    expect(request?.status).toBe(201);
    expect(request?.headers['content-type']).toBe('application/json');
    expect(request?.body).toEqual({
      title: 'Printer on fire',
      description: 'It smokes.\n\n<!-- postdesk:m-0123456789 -->',
      labels: 'support,email',
      confidential: true,
    });
    expect(gitlab.issues('acme/game')[0]?.description).toContain('postdesk:m-0123456789');
  });

  it('streams a multi-MB upload without buffering it, bytes intact (size unknown: chunked)', async () => {
    // Prepare: the source pauses after 3 MiB until GitLab has received 2 MiB.
    const { forge } = harness();
    const source = patterned(6 * MiB, { at: 3 * MiB, open: () => gitlab.bytesReceived() >= 2 * MiB });
    // Act
    const upload = await forge.uploadFile(project, {
      filename: 'crash dump.bin',
      contentType: 'application/octet-stream',
      content: source.stream,
    });
    // Assess
    const [stored] = gitlab.uploads('acme/game');
    expect(stored?.bytes.length).toBe(6 * MiB);
    expect(stored && sha256(stored.bytes)).toBe(source.digest());
    expect(stored?.filename).toBe('crash dump.bin');
    expect(stored?.contentType).toBe('application/octet-stream');
    expect(upload.url).toMatch(/^\/uploads\/[0-9a-f]{32}\/crash_dump\.bin$/);
    expect(upload.markdown).toBe(`[crash_dump.bin](${upload.url})`);
    expect(upload.fullUrl).toBe(`${gitlab.url}${stored?.entity.full_path}`);
    const request = gitlab.requests.at(-1);
    expect(request?.headers['transfer-encoding']).toBe('chunked');
    expect(request?.headers['content-type']).toMatch(/^multipart\/form-data; boundary=/);
  });

  it('sends Content-Length when the size is known, and embeds images', async () => {
    // Prepare
    const { forge } = harness();
    const source = patterned(3 * MiB + 17);
    // Act
    const upload = await forge.uploadFile(project, {
      filename: 'screen.png',
      contentType: 'image/png',
      content: source.stream,
      size: 3 * MiB + 17,
    });
    // Assess
    const [stored] = gitlab.uploads('acme/game');
    expect(stored && sha256(stored.bytes)).toBe(source.digest());
    expect(upload.alt).toBe('screen');
    expect(upload.markdown).toBe(`![screen](${upload.url})`);
    const request = gitlab.requests.at(-1);
    expect(Number(request?.headers['content-length'])).toBe(request?.bodySize);
  });

  it('names the file safely: quotes, CR/LF and non-ASCII survive as RFC 6266 parameters', async () => {
    // Prepare
    const { forge } = harness();
    // Act
    await forge.uploadFile(project, {
      filename: 'résumé "final"\r\nX-Evil: 1.pdf',
      contentType: 'application/pdf\r\nX-Evil: 1',
      content: Readable.from([Buffer.from('%PDF-1.7')]),
    });
    // Assess
    const [stored] = gitlab.uploads('acme/game');
    expect(stored?.filename).toBe('résumé "final"X-Evil: 1.pdf');
    expect(stored?.contentType).toBe('application/octet-stream');
    expect(stored?.bytes.toString()).toBe('%PDF-1.7');
  });

  it('adds public and internal notes', async () => {
    // Prepare
    const { forge } = harness();
    const issue = gitlab.seedIssue('acme/game', { title: 'Help' });
    // Act
    const reply = await forge.addNote(project, issue.iid, { body: 'Customer says thanks', internal: false });
    const hidden = await forge.addNote(project, issue.iid, { body: 'Spam verdict: FAIL', internal: true });
    // Assess
    expect(reply).toEqual({ id: expect.any(Number), body: 'Customer says thanks', internal: false });
    expect(hidden.internal).toBe(true);
    expect(gitlab.notes('acme/game', issue.iid).map((n) => [n.body, n.internal])).toEqual([
      ['Customer says thanks', false],
      ['Spam verdict: FAIL', true],
    ]);
    expect(gitlab.requests.at(-1)?.body).toEqual({ body: 'Spam verdict: FAIL', internal: true });
  });

  it('reopens a closed issue with state_event=reopen', async () => {
    // Prepare
    const { forge } = harness();
    const issue = gitlab.seedIssue('acme/game', { title: 'Old', state: 'closed' });
    // Act
    await forge.reopenIssue(project, issue.iid);
    // Assess
    expect(gitlab.issues('acme/game')[0]?.state).toBe('opened');
    expect(gitlab.requests.at(-1)).toMatchObject({
      method: 'PUT',
      path: `/api/v4/projects/acme%2Fgame/issues/${issue.iid}`,
      body: { state_event: 'reopen' },
      status: 200,
    });
  });

  it('reads an issue, answers undefined for a missing one and fails for a missing project', async () => {
    // Prepare
    const { forge } = harness();
    gitlab.seedIssue('acme/game', { title: 'Known', labels: ['a'] });
    // Act
    const known = await forge.getIssue(project, 1);
    const missing = await forge.getIssue(project, 99);
    const error = await failureOf(forge.getIssue({ path: 'acme/gone' }, 1));
    // Assess
    expect(known?.title).toBe('Known');
    expect(missing).toBeUndefined();
    expect(error).toBeInstanceOf(PermanentError);
    expect(error.code).toBe('forge_not_found');
  });
});

describe('GitLab forge: markers', () => {
  it('finds an issue by the marker in its description, closed ones included, exact match only', async () => {
    // Prepare
    const { forge } = harness();
    const marker = 'postdesk-m-7f3a9c2e11';
    gitlab.seedIssue('acme/game', { title: `mentions ${marker} in the title only`, description: 'nothing' });
    gitlab.seedIssue('acme/game', { title: 'case differs', description: `<!-- ${marker.toUpperCase()} -->` });
    gitlab.seedIssue('acme/game', {
      title: 'the one',
      description: `body\n<!-- ${marker} -->`,
      state: 'closed',
    });
    // Act
    const found = await forge.findIssueByMarker(project, marker);
    const none = await forge.findIssueByMarker(project, 'postdesk-m-000000000');
    // Assess
    expect(found?.title).toBe('the one');
    expect(found?.state).toBe('closed');
    expect(none).toBeUndefined();
    const search = new URL(gitlab.requests[0]?.path ?? '', gitlab.url).searchParams;
    expect(search.get('search')).toBe(marker);
    expect(search.get('in')).toBe('description');
    expect(search.get('state')).toBeNull();
  });

  it('pages through notes, newest first, to find the marker; system notes do not count', async () => {
    // Prepare
    const { forge } = harness();
    const issue = gitlab.seedIssue('acme/game', { title: 'Busy' });
    const marker = 'postdesk-n-5be0c0ffee';
    gitlab.seedNote('acme/game', issue.iid, { body: `reply <!-- ${marker} -->` });
    for (let i = 0; i < 150; i++) gitlab.seedNote('acme/game', issue.iid, { body: `chatter ${i}` });
    gitlab.seedNote('acme/game', issue.iid, { body: `mentioned ${marker}`, system: true });
    // Act
    const found = await forge.findNoteByMarker(project, issue.iid, marker);
    const none = await forge.findNoteByMarker(project, issue.iid, 'postdesk-n-absent000');
    // Assess
    expect(found?.body).toContain(marker);
    expect(found?.internal).toBe(false);
    expect(none).toBeUndefined();
    const pages = gitlab.requests.map((r) => new URL(r.path, gitlab.url).searchParams);
    expect(pages[0]?.get('sort')).toBe('desc');
    expect(pages[0]?.get('per_page')).toBe('100');
    expect(pages.slice(0, 2).map((p) => p.get('page'))).toEqual(['1', '2']);
  });

  it('refuses a marker too short to be unique', async () => {
    const { forge } = harness();
    expect((await failureOf(forge.findIssueByMarker(project, 'abc'))).code).toBe('forge_invalid_request');
  });
});

describe('GitLab forge: repository files', () => {
  it('reads a nested file at HEAD, answers undefined for a missing file, fails for a missing project', async () => {
    // Prepare
    await start({
      projects: [{ path: 'acme/game', files: { '.gitlab/issue_templates/support.md': '## Thanks' } }],
    });
    const { forge } = harness();
    // Act
    const text = await forge.readRepoFile(project, '.gitlab/issue_templates/support.md');
    const missing = await forge.readRepoFile(project, 'nope.md');
    const error = await failureOf(forge.readRepoFile({ path: 'acme/gone' }, 'nope.md'));
    // Assess
    expect(text).toBe('## Thanks');
    expect(gitlab.requests[0]?.path).toBe(
      '/api/v4/projects/acme%2Fgame/repository/files/.gitlab%2Fissue_templates%2Fsupport.md/raw?ref=HEAD',
    );
    expect(missing).toBeUndefined();
    expect(error.code).toBe('forge_not_found');
    expect(error.message).toContain('acme/gone');
  });
});

describe('GitLab forge: authentication and permissions', () => {
  it('on 401 re-reads the secret once and retries with the new token', async () => {
    // Prepare
    let token = 'glpat-stale-token-aaaaaaaa';
    let refreshes = 0;
    const { forge } = harness({
      token: async () => token,
      onUnauthorized: async () => {
        refreshes += 1;
        token = FAKE_GITLAB_TOKEN;
      },
    });
    // Act
    const issue = await forge.createIssue(project, {
      title: 't',
      description: 'd',
      labels: [],
      confidential: false,
    });
    // Assess
    expect(issue.iid).toBe(1);
    expect(refreshes).toBe(1);
    expect(gitlab.requests.map((r) => r.status)).toEqual([401, 201]);
  });

  it('on a second 401 gives up with a permanent error that says how to fix it', async () => {
    // Prepare
    const bad = 'glpat-revoked-token-bbbbbbbb';
    let refreshes = 0;
    const { forge } = harness({
      token: async () => bad,
      onUnauthorized: async () => {
        refreshes += 1;
      },
    });
    // Act
    const error = await failureOf(
      forge.createIssue(project, { title: 't', description: 'd', labels: [], confidential: false }),
    );
    // Assess
    expect(error).toBeInstanceOf(PermanentError);
    expect(error.code).toBe('forge_unauthorized');
    expect(error.message).toContain('postdesk secret write');
    expect(refreshes).toBe(1);
    expect(gitlab.requests).toHaveLength(2);
    expect(chainText(error)).not.toContain(bad);
  });

  it('shares one refresh between concurrent 401s', async () => {
    // Prepare
    let token = 'glpat-stale-token-cccccccc';
    let refreshes = 0;
    const { forge } = harness({
      token: async () => token,
      onUnauthorized: async () => {
        refreshes += 1;
        await new Promise((resolve) => setTimeout(resolve, 20));
        token = FAKE_GITLAB_TOKEN;
      },
    });
    // Act
    await Promise.all([forge.getIssue(project, 1), forge.getIssue(project, 2), forge.getIssue(project, 3)]);
    // Assess
    expect(refreshes).toBe(1);
  });

  it('on 401 for an upload (the stream is spent) reports a transient error once the new token works', async () => {
    // Prepare
    let token = 'glpat-stale-token-dddddddd';
    const { forge } = harness({
      token: async () => token,
      onUnauthorized: async () => {
        token = FAKE_GITLAB_TOKEN;
      },
    });
    // Act
    const error = await failureOf(
      forge.uploadFile(project, {
        filename: 'a.txt',
        contentType: 'text/plain',
        content: Readable.from(['hi']),
      }),
    );
    // Assess
    expect(error).toBeInstanceOf(TransientError);
    expect(error.code).toBe('forge_token_refreshed');
    expect(gitlab.uploads('acme/game')).toHaveLength(0);
  });

  it('403 for a token without the api scope names the scope and the role', async () => {
    // Prepare
    await start({
      tokens: [{ value: 'glpat-read-only-eeeeeeee', userId: FAKE_GITLAB_BOT_ID, scopes: ['read_api'] }],
    });
    const { forge } = harness();
    // Act
    const error = await failureOf(
      forge.createIssue(project, { title: 't', description: 'd', labels: [], confidential: false }),
    );
    // Assess
    expect(error).toBeInstanceOf(PermanentError);
    expect(error.code).toBe('forge_forbidden');
    expect(error.message).toContain('`api` scope');
    expect(error.message).toContain('Reporter');
    expect(error.message).toContain('insufficient_scope');
  });

  it('403 for a Guest writing an internal note', async () => {
    // Prepare
    await start({ projects: [{ path: 'acme/game', members: { [FAKE_GITLAB_BOT_ID]: ACCESS.guest } }] });
    const { forge } = harness();
    const issue = gitlab.seedIssue('acme/game', { title: 'x' });
    // Act
    const error = await failureOf(forge.addNote(project, issue.iid, { body: 'secret', internal: true }));
    // Assess
    expect(error.code).toBe('forge_forbidden');
    expect(gitlab.requests).toHaveLength(1);
  });

  it('404 for an unknown project names the path and the config key', async () => {
    // Prepare
    const { forge } = harness();
    // Act
    const error = await failureOf(
      forge.createIssue(
        { path: 'acme/typo' },
        { title: 't', description: 'd', labels: [], confidential: false },
      ),
    );
    // Assess
    expect(error).toBeInstanceOf(PermanentError);
    expect(error.code).toBe('forge_not_found');
    expect(error.message).toContain('acme/typo');
    expect(error.message).toContain('projects[].path');
    expect(error.message).toContain('member');
    expect(gitlab.requests).toHaveLength(1);
  });

  it('rejects a forge URL that is not http(s) or carries credentials', () => {
    expect(() => createGitLabForge({ url: 'ftp://gitlab.example.com', token: async () => 'x' })).toThrow(
      PermanentError,
    );
    expect(() =>
      createGitLabForge({ url: 'https://bot:pw@gitlab.example.com', token: async () => 'x' }),
    ).toThrow(/credentials/);
  });
});

describe('GitLab forge: retries', () => {
  const input = { title: 't', description: 'd', labels: [], confidential: false };

  it('retries 500s with full-jitter backoff, then succeeds', async () => {
    // Prepare
    const { forge, waits, logs } = harness();
    gitlab.failNext(2, { status: 500 });
    // Act
    const issue = await forge.createIssue(project, input);
    // Assess
    expect(issue.iid).toBe(1);
    expect(gitlab.requests.map((r) => r.status)).toEqual([500, 500, 201]);
    expect(waits).toEqual([125, 250]); // random 0.5 × min(cap, 250 × 2^(n-1))
    expect(logs.filter((l) => l.level === 'warn')).toHaveLength(2);
  });

  it('honours Retry-After in seconds on 429', async () => {
    // Prepare
    const { forge, waits } = harness();
    gitlab.failNext(1, { status: 429, retryAfter: 3 });
    // Act
    await forge.createIssue(project, input);
    // Assess
    expect(waits).toEqual([3_000]);
    expect(gitlab.requests.map((r) => r.status)).toEqual([429, 201]);
  });

  it('honours Retry-After as an HTTP date', async () => {
    // Prepare
    const { forge, waits } = harness();
    gitlab.failNext(1, { status: 503, retryAfter: new Date(Date.now() + 6_000).toUTCString() });
    // Act
    await forge.getIssue(project, 1);
    // Assess
    expect(waits).toHaveLength(1);
    expect(waits[0]).toBeGreaterThan(3_000);
    expect(waits[0]).toBeLessThanOrEqual(6_000);
  });

  it('hands a long Retry-After to the queue instead of sleeping through it', async () => {
    // Prepare
    const { forge, waits } = harness();
    gitlab.failNext(1, { status: 429, retryAfter: 120 });
    // Act
    const error = await failureOf(forge.createIssue(project, input));
    // Assess
    expect(error).toBeInstanceOf(TransientError);
    expect(error.code).toBe('forge_rate_limited');
    expect((error as TransientError).retryAfterMs).toBe(120_000);
    expect(waits).toEqual([]);
    expect(gitlab.requests).toHaveLength(1);
  });

  it('gives up after the configured attempts with forge_unavailable and a retry hint', async () => {
    // Prepare
    const { forge, waits } = harness();
    gitlab.failNext(10, { status: 503 });
    // Act
    const error = await failureOf(forge.createIssue(project, input));
    // Assess
    expect(error).toBeInstanceOf(TransientError);
    expect(error.code).toBe('forge_unavailable');
    expect((error as TransientError).retryAfterMs).toEqual(expect.any(Number));
    expect(gitlab.requests).toHaveLength(4);
    expect(waits).toEqual([125, 250, 500]);
  });

  it('retries 409 conflicts', async () => {
    const { forge } = harness();
    gitlab.failNext(1, { status: 409 });
    await forge.reopenIssue(project, gitlab.seedIssue('acme/game', { title: 'x', state: 'closed' }).iid);
    expect(gitlab.requests.map((r) => r.status)).toEqual([409, 200]);
  });

  it('caps the backoff', async () => {
    // Prepare
    const { forge, waits } = harness({
      retry: {
        attempts: 6,
        baseMs: 1_000,
        capMs: 3_000,
        random: () => 0.999,
        sleep: async (ms) => void waits.push(ms),
      },
    });
    gitlab.failNext(5, { status: 502 });
    // Act
    await forge.getIssue(project, 1);
    // Assess
    expect(waits).toEqual([999, 1_998, 2_997, 2_997, 2_997]);
  });

  it('retries a dropped connection', async () => {
    // Prepare
    const { forge } = harness();
    const seeded = gitlab.seedIssue('acme/game', { title: 'x' });
    gitlab.dropNext(1);
    // Act
    const issue = await forge.getIssue(project, seeded.iid);
    // Assess
    expect(issue?.iid).toBe(seeded.iid);
    expect(gitlab.requests.map((r) => r.status)).toEqual(['dropped', 200]);
  });

  it('does not send a POST again once it may have reached GitLab (a dropped connection)', async () => {
    // Prepare
    const { forge } = harness();
    gitlab.dropNext(1);
    // Act
    const error = await failureOf(forge.createIssue(project, input));
    // Assess: the queue retries the mail; deliver's ledger and marker make that exactly-once.
    expect(error).toBeInstanceOf(TransientError);
    expect(error.code).toBe('forge_unavailable');
    expect(gitlab.requests.map((r) => r.status)).toEqual(['dropped']);
  });

  it('reports forge_unavailable when every connection drops', async () => {
    const { forge } = harness();
    gitlab.dropNext(10);
    const error = await failureOf(forge.getIssue(project, 1));
    expect(error).toBeInstanceOf(TransientError);
    expect(error.code).toBe('forge_unavailable');
  });

  it('times out a slow answer and retries it', async () => {
    // Prepare
    const { forge, waits } = harness({ timeoutMs: 400 });
    const seeded = gitlab.seedIssue('acme/game', { title: 'x' });
    gitlab.delay(3_000);
    // Act
    const issue = await forge.getIssue(project, seeded.iid);
    // Assess
    expect(issue?.iid).toBe(seeded.iid);
    expect(waits).toHaveLength(1);
  });

  it('does not send a POST again after a timeout: GitLab may still be making the issue', async () => {
    // Prepare
    const { forge, waits } = harness({ timeoutMs: 400 });
    gitlab.delay(1_000);
    // Act
    const error = await failureOf(forge.createIssue(project, input));
    await new Promise((resolve) => setTimeout(resolve, 1_200));
    // Assess: one POST, one issue (made after we gave up); the retry is the queue's.
    expect(error).toBeInstanceOf(TransientError);
    expect(error.code).toBe('forge_timeout');
    expect(waits).toEqual([]);
    expect(gitlab.issues('acme/game')).toHaveLength(1);
  });

  it('reports forge_timeout when every answer is too slow', async () => {
    // Prepare
    const { forge } = harness({ timeoutMs: 150 });
    gitlab.setLatency(1_000);
    // Act
    const error = await failureOf(forge.getIssue(project, 1));
    // Assess
    expect(error).toBeInstanceOf(TransientError);
    expect(error.code).toBe('forge_timeout');
    expect(error.message).toContain('acme/game');
  });

  it('reports forge_unavailable when nothing listens (connection refused)', async () => {
    // Prepare
    const port = await closedPort();
    const { forge, waits } = harness({ url: `http://127.0.0.1:${port}` });
    // Act
    const error = await failureOf(forge.getIssue(project, 1));
    // Assess
    expect(error.code).toBe('forge_unavailable');
    expect(chainText(error)).toContain('ECONNREFUSED');
    expect(waits).toHaveLength(3);
  });
});

describe('GitLab forge: uploads are single-use', () => {
  it('does not retry an upload once its body started (503)', async () => {
    // Prepare
    const { forge, waits } = harness();
    gitlab.failNext(1, { status: 503, retryAfter: 7 });
    // Act
    const error = await failureOf(
      forge.uploadFile(project, {
        filename: 'a.bin',
        contentType: 'application/octet-stream',
        content: patterned(MiB).stream,
      }),
    );
    // Assess
    expect(error).toBeInstanceOf(TransientError);
    expect(error.code).toBe('forge_unavailable');
    expect((error as TransientError).retryAfterMs).toBe(7_000);
    expect(waits).toEqual([]);
    expect(gitlab.requests).toHaveLength(1);
  });

  it('does not retry an upload whose connection dropped mid-body', async () => {
    // Prepare
    const { forge } = harness();
    gitlab.dropNext(1);
    // Act
    const error = await failureOf(
      forge.uploadFile(project, {
        filename: 'a.bin',
        contentType: 'application/octet-stream',
        content: patterned(2 * MiB).stream,
      }),
    );
    // Assess
    expect(error).toBeInstanceOf(TransientError);
    expect(gitlab.requests).toHaveLength(1);
  });

  it('retries while the stream is untouched (connection refused), leaving it whole for the next try', async () => {
    // Prepare
    const port = await closedPort();
    const refused = harness({ url: `http://127.0.0.1:${port}` });
    const source = patterned(MiB);
    // Act
    const error = await failureOf(
      refused.forge.uploadFile(project, {
        filename: 'a.bin',
        contentType: 'application/octet-stream',
        content: source.stream,
      }),
    );
    await harness().forge.uploadFile(project, {
      filename: 'a.bin',
      contentType: 'application/octet-stream',
      content: source.stream,
    });
    // Assess
    expect(error.code).toBe('forge_unavailable');
    expect(refused.waits).toHaveLength(3);
    const [stored] = gitlab.uploads('acme/game');
    expect(stored && sha256(stored.bytes)).toBe(source.digest());
  });

  it('fails an upload whose stream breaks, with the stream’s own error', async () => {
    // Prepare
    const { forge } = harness();
    const broken = Readable.from(
      (async function* () {
        yield Buffer.alloc(1024);
        throw new Error('attachment decoder failed');
      })(),
    );
    // Act / Assess
    await expect(
      forge.uploadFile(project, {
        filename: 'a.bin',
        contentType: 'application/octet-stream',
        content: broken,
      }),
    ).rejects.toThrow('attachment decoder failed');
  });
});

describe('GitLab forge: a source stream that fails before the socket connects', () => {
  it('rejects with the stream’s error instead of crashing on an unheard error event', async () => {
    // Prepare
    const { forge } = harness();
    const source = new PassThrough();
    // Act
    const pending = forge.uploadFile(project, {
      filename: 'a.bin',
      contentType: 'application/octet-stream',
      content: source,
    });
    source.destroy(new Error('S3 read failed'));
    // Assess
    await expect(pending).rejects.toThrow('S3 read failed');
  });
});

describe('GitLab forge: the token stays secret', () => {
  it('never appears in an error, a log line or a recorded request', async () => {
    // Prepare
    const secret = 'glpat-super-secret-value-zzzz';
    await start({ tokens: [{ value: secret, userId: FAKE_GITLAB_BOT_ID }] });
    const { forge, logs } = harness({ token: async () => secret, timeoutMs: 300 });
    const wrong = harness({
      token: async () => 'glpat-wrong-but-secret-yyyy',
      onUnauthorized: async () => {},
    });
    const errors: unknown[] = [];
    const collect = async (work: Promise<unknown>): Promise<void> => {
      await work.catch((error: unknown) => {
        errors.push(error);
      });
    };
    // Act
    gitlab.failNext(4, { status: 503 });
    await collect(forge.getIssue(project, 1));
    gitlab.setLatency(1_000);
    await collect(forge.getIssue(project, 1));
    gitlab.setLatency(0);
    await collect(
      forge.createIssue(
        { path: 'acme/none' },
        { title: 't', description: 'd', labels: [], confidential: false },
      ),
    );
    await collect(wrong.forge.getIssue(project, 1));
    await forge.createIssue(project, { title: 't', description: 'd', labels: [], confidential: false });
    // Assess
    expect(errors).toHaveLength(4);
    const everything = [
      ...errors.map(chainText),
      JSON.stringify(logs),
      JSON.stringify(wrong.logs),
      JSON.stringify(gitlab.requests),
    ].join('\n');
    expect(everything).not.toContain(secret);
    expect(everything).not.toContain('glpat-wrong-but-secret-yyyy');
    expect(gitlab.requests.every((r) => r.headers['private-token'] === undefined)).toBe(true);
  });
});

describe('GitLab admin helpers (postdesk doctor)', () => {
  const admin = (): ReturnType<typeof createGitLabAdmin> =>
    createGitLabAdmin({ url: gitlab.url, token: async () => gitlab.token, timeoutMs: 2_000 });

  it('reads the bot user, its token scopes and its role', async () => {
    // Act
    const user = await admin().currentUser();
    const token = await admin().tokenScopes();
    const access = await admin().projectAccess('acme/game');
    // Assess
    expect(user).toEqual({
      id: FAKE_GITLAB_BOT_ID,
      username: 'postdesk-bot',
      name: 'Postdesk Bot',
      state: 'active',
      bot: true,
    });
    expect(token?.scopes).toEqual(['api']);
    expect(token?.active).toBe(true);
    expect(access).toMatchObject({ path: 'acme/game', accessLevel: 30, role: 'developer' });
  });

  it('reports no access for a public project the bot is not a member of', async () => {
    await start({ projects: [{ path: 'acme/open', visibility: 'public', members: {} }] });
    const access = await admin().projectAccess('acme/open');
    expect(access).toMatchObject({ accessLevel: 0, role: 'none' });
  });

  it('lists hooks as a Maintainer, and explains the 403 to a Developer', async () => {
    // Prepare
    await start({
      projects: [
        {
          path: 'acme/game',
          members: { [FAKE_GITLAB_BOT_ID]: ACCESS.maintainer },
          hooks: [
            {
              url: 'https://desk.example.com/hook',
              issues_events: true,
              note_events: true,
              confidential_note_events: true,
            },
          ],
        },
        { path: 'acme/other' },
      ],
    });
    // Act
    const hooks = await admin().listHooks('acme/game');
    const error = await failureOf(admin().listHooks('acme/other'));
    // Assess
    expect(hooks).toEqual([
      {
        id: 1,
        url: 'https://desk.example.com/hook',
        issuesEvents: true,
        confidentialIssuesEvents: false,
        noteEvents: true,
        confidentialNoteEvents: true,
        enableSslVerification: true,
      },
    ]);
    expect(error.code).toBe('forge_forbidden');
    expect(error.message).toContain('Maintainer');
  });
});

describe('wire details', () => {
  it('quotes file names RFC 6266 style', () => {
    expect(contentDispositionFilename('report.pdf')).toBe('filename="report.pdf"');
    expect(contentDispositionFilename('say "hi".txt')).toBe(
      `filename="say _hi_.txt"; filename*=UTF-8''say%20%22hi%22.txt`,
    );
    expect(contentDispositionFilename('C:\\Users\\me\\notes.txt')).toBe('filename="notes.txt"');
    expect(contentDispositionFilename('../../etc/passwd')).toBe('filename="passwd"');
    expect(contentDispositionFilename('日本語.txt')).toBe(
      `filename="___.txt"; filename*=UTF-8''%E6%97%A5%E6%9C%AC%E8%AA%9E.txt`,
    );
    expect(contentDispositionFilename('\u202Egnp.exe')).toBe('filename="gnp.exe"');
    expect(contentDispositionFilename('')).toBe('filename="file"');
  });

  it('parses Retry-After as seconds or an HTTP date', () => {
    const now = Date.parse('2025-01-01T00:00:00Z');
    expect(parseRetryAfter('30', now)).toBe(30_000);
    expect(parseRetryAfter('Wed, 01 Jan 2025 00:00:10 GMT', now)).toBe(10_000);
    expect(parseRetryAfter('Tue, 31 Dec 2024 00:00:00 GMT', now)).toBe(0);
    expect(parseRetryAfter('soon', now)).toBeUndefined();
    expect(parseRetryAfter(undefined, now)).toBeUndefined();
  });
});

/** A port nothing listens on: bind one, then close it. */
const closedPort = async (): Promise<number> => {
  const server = createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const address = server.address();
  await new Promise<void>((resolve) => server.close(() => resolve()));
  if (address === null || typeof address === 'string') throw new Error('no port');
  return address.port;
};
