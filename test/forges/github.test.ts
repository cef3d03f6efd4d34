import { generateKeyPairSync } from 'node:crypto';
import { Readable } from 'node:stream';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import {
  type AttachmentStore,
  createAppTokenSource,
  createGitHubForge,
  type GitHubForgeOptions,
  signAttachmentToken,
  verifyAttachmentToken,
} from '../../adapters/forges/github/index.ts';
import { PermanentError, TransientError } from '../../core/errors.ts';
import type { UploadInput } from '../../core/ports.ts';
import {
  FAKE_GITHUB_TOKEN,
  type FakeGitHub,
  type FakeGitHubOptions,
  startFakeGitHub,
} from '../support/fake-github.ts';

const project = { path: 'acme/game' };
let fake: FakeGitHub;
let waits: number[];
let clock: number;
const uploads: UploadInput[] = [];
const attachments: AttachmentStore = {
  put: async (_project, input) => {
    uploads.push(input);
    return {
      markdown: `[${input.filename}](https://desk.example/a/k?t=x)`,
      url: 'https://desk.example/a/k?t=x',
      alt: input.filename,
    };
  },
};

const restart = async (options: FakeGitHubOptions = {}) => {
  await fake.close();
  fake = await startFakeGitHub({ now: () => clock, ...options });
};

beforeEach(async () => {
  clock = Date.parse('2026-12-02T11:00:00Z');
  fake = await startFakeGitHub({ now: () => clock });
  waits = [];
  uploads.length = 0;
});
afterEach(async () => {
  await fake.close();
});

const retry = {
  sleep: async (ms: number) => {
    waits.push(ms);
  },
  random: () => 0.5,
};

const forge = (overrides: Partial<GitHubForgeOptions> = {}) =>
  createGitHubForge({
    apiUrl: fake.url,
    token: async () => FAKE_GITHUB_TOKEN,
    botLogin: 'postdesk[bot]',
    attachments,
    timeoutMs: 500,
    retry,
    now: () => clock,
    ...overrides,
  });

const input = (marker: string) => ({
  title: 'Login fails',
  description: `Cannot log in.\n\n${marker}`,
  labels: ['support'],
  confidential: false,
});

describe('GitHub forge', () => {
  it('creates an issue with labels and the API version headers', async () => {
    const issue = await forge().createIssue(project, input('<!-- m1 -->'));
    expect(issue).toMatchObject({ iid: 1, state: 'opened', labels: ['support'], confidential: false });
    const request = fake.requests[0];
    expect(request?.apiVersion).toBe('2022-11-28');
    expect(request?.accept).toBe('application/vnd.github+json');
    expect(request?.authorization).toBe(`Bearer ${FAKE_GITHUB_TOKEN}`);
  });

  it('comments, finds comments by marker across pages, closes, reopens and reads', async () => {
    const desk = forge({ pageSize: 2 });
    await desk.createIssue(project, input('<!-- m1 -->'));
    for (let i = 0; i < 3; i += 1)
      await desk.addNote(project, 1, { body: `reply ${i} <!-- n${i} -->`, internal: false });
    expect((await desk.findNoteByMarker(project, 1, '<!-- n2 -->'))?.body).toBe('reply 2 <!-- n2 -->');
    expect(await desk.findNoteByMarker(project, 1, '<!-- n9 -->')).toBeUndefined();
    await desk.closeIssue(project, 1);
    expect((await desk.getIssue(project, 1))?.state).toBe('closed');
    await desk.reopenIssue(project, 1);
    expect((await desk.getIssue(project, 1))?.state).toBe('opened');
    expect(await desk.getIssue(project, 7)).toBeUndefined();
  });

  it('refuses internal notes and confidential issues, sending nothing', async () => {
    const desk = forge();
    await expect(desk.addNote(project, 1, { body: 'x', internal: true })).rejects.toMatchObject({
      code: 'forge_internal_unsupported',
    });
    await expect(desk.createIssue(project, { ...input('m'), confidential: true })).rejects.toBeInstanceOf(
      PermanentError,
    );
    expect(fake.requests).toHaveLength(0);
  });

  it('finds an issue by marker listing the bot’s issues with creator, since and state=all', async () => {
    const desk = forge({ pageSize: 2 });
    await desk.createIssue(project, input('<!-- target -->'));
    for (let i = 0; i < 3; i += 1) await desk.createIssue(project, input(`<!-- o${i} -->`));
    expect((await desk.findIssueByMarker(project, '<!-- target -->'))?.iid).toBe(1);
    const list = fake.requests.filter((r) => r.method === 'GET' && r.path.endsWith('/issues'));
    expect(list.map((r) => r.query.get('page'))).toEqual(['1', '2']);
    expect(list[0]?.query.get('creator')).toBe('postdesk[bot]');
    expect(list[0]?.query.get('state')).toBe('all');
    expect(list[0]?.query.get('since')).toBe('2026-11-25T11:00:00.000Z');
    expect(await desk.findIssueByMarker(project, '<!-- none -->')).toBeUndefined();
  });

  it('recovers an issue by marker after a 502 on create, without posting it twice', async () => {
    fake.faults.push({ match: /^POST .*\/issues$/, status: 502, afterEffect: true });
    const desk = forge();
    await expect(desk.createIssue(project, input('<!-- m502 -->'))).rejects.toBeInstanceOf(TransientError);
    expect(fake.issues).toHaveLength(1);
    expect((await desk.findIssueByMarker(project, '<!-- m502 -->'))?.iid).toBe(1);
  });

  it('reads a repository file with the raw media type, undefined when absent', async () => {
    const desk = forge();
    expect(await desk.readRepoFile(project, '.postdesk/templates/thanks.md')).toBe('Thanks!\n');
    expect(await desk.readRepoFile(project, 'nope.md')).toBeUndefined();
  });

  it('delegates uploads to the attachment store', async () => {
    const upload = await forge().uploadFile(project, {
      filename: 'log.txt',
      contentType: 'text/plain',
      content: Readable.from(['x']),
    });
    expect(upload.url).toBe('https://desk.example/a/k?t=x');
    expect(uploads.map((u) => u.filename)).toEqual(['log.txt']);
    expect(fake.requests).toHaveLength(0);
  });

  it('maps Bad credentials (401) to a permanent error naming the token fix', async () => {
    const error = await forge({ token: async () => 'github_pat_wrong' })
      .getIssue(project, 1)
      .catch((e: unknown) => e);
    expect(error).toMatchObject({
      code: 'forge_unauthorized',
      message: expect.stringContaining('Issues: read and write'),
    });
    expect((error as Error).message).not.toContain('github_pat_wrong');
  });

  it('treats a plain 403 as permanent and a secondary rate limit 403 with Retry-After as a wait', async () => {
    fake.faults.push({
      match: /^GET /,
      status: 403,
      message: 'Resource not accessible by personal access token',
    });
    await expect(forge().getIssue(project, 1)).rejects.toMatchObject({ code: 'forge_forbidden' });
    await forge().createIssue(project, input('m'));
    fake.faults.push({
      match: /^POST .*\/comments$/,
      status: 403,
      message: 'You have exceeded a secondary rate limit',
      headers: { 'retry-after': '2' },
    });
    await forge().addNote(project, 1, { body: 'hi', internal: false });
    expect(waits).toEqual([2000]);
    expect(fake.issues[0]?.comments).toHaveLength(1);
  });

  it('waits for x-ratelimit-reset when the primary rate limit is exhausted', async () => {
    const reset = Math.floor(clock / 1000) + 7;
    fake.faults.push({
      match: /^GET /,
      status: 403,
      message: 'API rate limit exceeded',
      headers: { 'x-ratelimit-remaining': '0', 'x-ratelimit-reset': String(reset) },
    });
    await forge().createIssue(project, input('m'));
    expect((await forge().getIssue(project, 1))?.iid).toBe(1);
    expect(waits).toEqual([7000]);
  });

  it('retries 5xx and dropped connections on reads, then gives a transient error', async () => {
    fake.faults.push({ match: /^GET /, status: 503, times: 1 }, { match: /^GET /, drop: true, times: 1 });
    await forge().createIssue(project, input('m'));
    expect((await forge().getIssue(project, 1))?.iid).toBe(1);
    fake.faults.push({ match: /^GET /, status: 500, times: 3 });
    await expect(forge().getIssue(project, 1)).rejects.toMatchObject({ code: 'forge_unavailable' });
  });

  it('issue-missing-repo: getIssue on a repository that does not exist is a config error, not a missing issue', async () => {
    await expect(forge().getIssue({ path: 'acme/other' }, 1)).rejects.toMatchObject({
      code: 'forge_not_found',
    });
    expect(await forge().getIssue(project, 1)).toBeUndefined();
  });

  it('names the field of an unexpected response shape', async () => {
    await forge().createIssue(project, input('m'));
    fake.faults.push({ match: /^GET /, status: 200, message: 'not an issue' });
    await expect(forge().getIssue(project, 1)).rejects.toMatchObject({
      code: 'forge_bad_response',
      message: expect.stringContaining('field id'),
    });
  });
});

describe('GitHub App auth', () => {
  const { privateKey, publicKey } = generateKeyPairSync('rsa', { modulusLength: 2048 });
  const pem = privateKey.export({ type: 'pkcs8', format: 'pem' }).toString();
  const publicPem = publicKey.export({ type: 'spki', format: 'pem' }).toString();

  it('exchanges an RS256 JWT for an installation token, caches it and refreshes it before its hour ends', async () => {
    await restart({ appPublicKey: publicPem, appId: '4242' });
    const token = createAppTokenSource({
      apiUrl: fake.url,
      appId: '4242',
      installationId: 77,
      privateKey: async () => pem,
      now: () => clock,
      retry,
    });
    const desk = forge({ token });
    await desk.createIssue(project, input('m'));
    await desk.getIssue(project, 1);
    expect(fake.issuedTokens).toHaveLength(1);
    clock += 56 * 60_000; // within 5 minutes of expiry: refreshed
    await desk.getIssue(project, 1);
    expect(fake.issuedTokens).toHaveLength(2);
    const used = fake.requests.filter((r) => r.path.startsWith('/repos/')).map((r) => r.authorization);
    expect(used).toEqual([
      `Bearer ${fake.issuedTokens[0]}`,
      `Bearer ${fake.issuedTokens[0]}`,
      `Bearer ${fake.issuedTokens[1]}`,
    ]);
  });

  it('reports a JWT signed with the wrong key as a permanent error', async () => {
    const other = generateKeyPairSync('rsa', { modulusLength: 2048 }).privateKey.export({
      type: 'pkcs8',
      format: 'pem',
    });
    await restart({ appPublicKey: publicPem, appId: '4242' });
    const token = createAppTokenSource({
      apiUrl: fake.url,
      appId: '4242',
      installationId: 77,
      privateKey: async () => other.toString(),
      now: () => clock,
    });
    await expect(token()).rejects.toMatchObject({
      code: 'forge_unauthorized',
      message: expect.stringContaining('private key'),
    });
  });
});

describe('attachment tokens', () => {
  it('verifies its own token, refuses another key, a tampered, truncated or expired one', () => {
    const token = signAttachmentToken('k-secret', 'att/1/log.txt', 2000);
    expect(verifyAttachmentToken('k-secret', 'att/1/log.txt', token, 1999)).toEqual({ ok: true });
    expect(verifyAttachmentToken('k-secret', 'att/2/log.txt', token, 1999)).toEqual({
      ok: false,
      reason: 'token_mismatch',
    });
    expect(verifyAttachmentToken('other', 'att/1/log.txt', token, 1999)).toEqual({
      ok: false,
      reason: 'token_mismatch',
    });
    expect(verifyAttachmentToken('k-secret', 'att/1/log.txt', token.slice(0, -2), 1999)).toEqual({
      ok: false,
      reason: 'token_malformed',
    });
    expect(verifyAttachmentToken('k-secret', 'att/1/log.txt', token.replace('2000', '9000'), 1999)).toEqual({
      ok: false,
      reason: 'token_mismatch',
    });
    expect(verifyAttachmentToken('k-secret', 'att/1/log.txt', token, 2001)).toEqual({
      ok: false,
      reason: 'token_expired',
    });
  });
});
