import { createHmac } from 'node:crypto';
import { Readable } from 'node:stream';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import {
  createForgejoForge,
  type ForgejoForgeOptions,
  parseForgeWebhook,
  verifyForgejoSignature,
  verifyGitHubSignature,
} from '../../adapters/forges/forgejo/index.ts';
import { PermanentError, TransientError } from '../../core/errors.ts';
import { FAKE_FORGEJO_TOKEN, type FakeForgejo, startFakeForgejo } from '../support/fake-forgejo.ts';

const project = { path: 'acme/game' };
let fake: FakeForgejo;
let waits: number[];

beforeEach(async () => {
  fake = await startFakeForgejo();
  waits = [];
});
afterEach(async () => {
  await fake.close();
});

const forge = (overrides: Partial<ForgejoForgeOptions> = {}) =>
  createForgejoForge({
    url: fake.url,
    token: async () => FAKE_FORGEJO_TOKEN,
    timeoutMs: 500,
    retry: {
      sleep: async (ms) => {
        waits.push(ms);
      },
      random: () => 0.5,
    },
    ...overrides,
  });

const issueInput = (marker = '<!-- postdesk:m1 -->') => ({
  title: 'Printer on fire',
  description: `It burns.\n\n${marker}`,
  labels: ['support'],
  confidential: false,
});

describe('Forgejo forge', () => {
  it('creates an issue with label ids looked up once by name, with token auth', async () => {
    // Prepare
    const desk = forge();
    // Act
    const first = await desk.createIssue(project, issueInput());
    await desk.createIssue(project, { ...issueInput('m2'), labels: ['bug', 'support'] });
    // Assess
    expect(first).toMatchObject({ iid: 1, state: 'opened', labels: ['support'], confidential: false });
    expect(first.webUrl).toBe(`${fake.url}/acme/game/issues/1`);
    expect(fake.issues[1]?.labels).toEqual([9, 7]);
    expect(fake.requests.filter((r) => r.path.endsWith('/labels'))).toHaveLength(1);
    expect(fake.requests.every((r) => r.authorization === `token ${FAKE_FORGEJO_TOKEN}`)).toBe(true);
  });

  it('refuses a label the repository does not have, naming it', async () => {
    await expect(forge().createIssue(project, { ...issueInput(), labels: ['nope'] })).rejects.toMatchObject({
      code: 'forge_label_missing',
      message: expect.stringContaining('"nope"'),
    });
  });

  it('refuses confidential issues and internal notes with a config fix, sending nothing', async () => {
    const desk = forge();
    await expect(desk.createIssue(project, { ...issueInput(), confidential: true })).rejects.toMatchObject({
      code: 'forge_confidential_unsupported',
      message: expect.stringContaining('confidential: false'),
    });
    await expect(desk.addNote(project, 1, { body: 'x', internal: true })).rejects.toBeInstanceOf(
      PermanentError,
    );
    expect(fake.requests).toHaveLength(0);
  });

  it('adds comments, finds them by marker, reads, reopens and closes issues', async () => {
    const desk = forge();
    await desk.createIssue(project, issueInput());
    const note = await desk.addNote(project, 1, { body: 'Answer <!-- n1 -->', internal: false });
    expect(note).toMatchObject({ body: 'Answer <!-- n1 -->', internal: false });
    expect(await desk.findNoteByMarker(project, 1, '<!-- n1 -->')).toEqual(note);
    expect(await desk.findNoteByMarker(project, 1, '<!-- n2 -->')).toBeUndefined();
    await desk.closeIssue(project, 1);
    expect((await desk.getIssue(project, 1))?.state).toBe('closed');
    await desk.reopenIssue(project, 1);
    expect((await desk.getIssue(project, 1))?.state).toBe('opened');
    expect(
      fake.requests.filter((r) => r.method === 'PATCH').map((r) => JSON.parse(r.body.toString())),
    ).toEqual([{ state: 'closed' }, { state: 'open' }]);
    expect(await desk.getIssue(project, 42)).toBeUndefined();
  });

  it('finds an issue by its marker across pages (state=all, type=issues)', async () => {
    const desk = forge({ pageSize: 2 });
    await desk.createIssue(project, issueInput('<!-- target -->'));
    for (let i = 0; i < 4; i += 1) await desk.createIssue(project, issueInput(`<!-- other ${i} -->`));
    const found = await desk.findIssueByMarker(project, '<!-- target -->');
    expect(found?.iid).toBe(1);
    const lists = fake.requests.filter((r) => r.method === 'GET' && r.path.endsWith('/issues'));
    expect(lists.map((r) => r.query.get('page'))).toEqual(['1', '2', '3']);
    expect(lists[0]?.query.get('state')).toBe('all');
    expect(lists[0]?.query.get('type')).toBe('issues');
    expect(await desk.findIssueByMarker(project, '<!-- absent -->')).toBeUndefined();
  });

  it('uploads an issue asset as multipart `attachment` and returns its markdown', async () => {
    const desk = forge();
    await desk.createIssue(project, issueInput());
    const upload = await desk.uploadIssueAsset(project, 1, {
      filename: 'shot.png',
      contentType: 'image/png',
      content: Readable.from([Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x00, 0xff])]),
    });
    expect(upload.markdown).toMatch(/^!\[shot\.png\]\(http:\/\/127\.0\.0\.1:\d+\/attachments\/uuid-\d+\)$/);
    expect(fake.attachments[0]).toMatchObject({ issue: 1, name: 'shot.png', contentType: 'image/png' });
    expect(fake.attachments[0]?.bytes).toEqual(Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x00, 0xff]));
    await expect(
      desk.uploadFile(project, { filename: 'a', contentType: 'text/plain', content: Readable.from(['a']) }),
    ).rejects.toMatchObject({ code: 'forge_upload_needs_issue' });
  });

  it('refuses an attachment above the size limit before sending it', async () => {
    const desk = forge({ maxUploadBytes: 4 });
    await desk.createIssue(project, issueInput());
    await expect(
      desk.uploadIssueAsset(project, 1, {
        filename: 'big.bin',
        contentType: 'application/octet-stream',
        content: Readable.from([Buffer.alloc(5)]),
      }),
    ).rejects.toMatchObject({ code: 'forge_too_large' });
    expect(fake.requests.some((r) => r.path.endsWith('/assets'))).toBe(false);
  });

  it('reads a repository file, undefined when absent, and refuses `..`', async () => {
    const desk = forge();
    expect(await desk.readRepoFile(project, '.postdesk/templates/thanks.md')).toBe('Thank you!\n');
    expect(await desk.readRepoFile(project, 'missing.md')).toBeUndefined();
    await expect(desk.readRepoFile(project, '../secrets')).rejects.toMatchObject({ code: 'forge_bad_path' });
  });

  it('maps 401 to a permanent error that says how to fix the token, without the token', async () => {
    const error = await forge({ token: async () => 'wrong-token' })
      .getIssue(project, 1)
      .catch((e: unknown) => e);
    expect(error).toBeInstanceOf(PermanentError);
    expect(error).toMatchObject({
      code: 'forge_unauthorized',
      message: expect.stringContaining('write:issue'),
    });
    expect(String((error as Error).message)).not.toContain('wrong-token');
  });

  it('maps 403 and 404 to permanent errors', async () => {
    fake.faults.push({ match: /^GET .*\/issues\/1$/, status: 403 });
    await expect(forge().getIssue(project, 1)).rejects.toMatchObject({ code: 'forge_forbidden' });
    await expect(
      forge().createIssue({ path: 'acme/other' }, { ...issueInput(), labels: [] }),
    ).rejects.toMatchObject({
      code: 'forge_not_found',
    });
  });

  it('retries a GET after 5xx and a dropped connection, then succeeds', async () => {
    const desk = forge();
    await desk.createIssue(project, issueInput());
    fake.faults.push(
      { match: /^GET .*\/issues\/1$/, status: 502 },
      { match: /^GET .*\/issues\/1$/, drop: true },
    );
    expect((await desk.getIssue(project, 1))?.iid).toBe(1);
    expect(waits).toHaveLength(2);
  });

  it('honours Retry-After on 429, also for a POST the forge did not act on', async () => {
    fake.faults.push({ match: /^POST .*\/issues$/, status: 429, retryAfter: '3' });
    const issue = await forge().createIssue(project, { ...issueInput(), labels: [] });
    expect(issue.iid).toBe(1);
    expect(waits).toEqual([3000]);
    expect(fake.issues).toHaveLength(1);
  });

  it('hands a long Retry-After to the queue as a transient error', async () => {
    fake.faults.push({ match: /^GET /, status: 503, retryAfter: '120', times: 5 });
    const error = await forge()
      .getIssue(project, 1)
      .catch((e: unknown) => e);
    expect(error).toBeInstanceOf(TransientError);
    expect(error).toMatchObject({ code: 'forge_unavailable', retryAfterMs: 120_000 });
    expect(waits).toEqual([]);
  });

  it('times out a slow answer as transient', async () => {
    fake.faults.push({ match: /^GET /, delayMs: 2000, times: 5 });
    await expect(forge({ timeoutMs: 100 }).getIssue(project, 1)).rejects.toMatchObject({
      code: 'forge_timeout',
    });
  });

  it('never sends a POST twice after a 5xx; the marker recovers the issue the forge made', async () => {
    // Prepare: the forge creates the issue, then answers 500.
    fake.faults.push({ match: /^POST .*\/issues$/, status: 500, afterEffect: true });
    const desk = forge();
    // Act
    const error = await desk.createIssue(project, issueInput('<!-- m-500 -->')).catch((e: unknown) => e);
    const recovered = await desk.findIssueByMarker(project, '<!-- m-500 -->');
    // Assess
    expect(error).toBeInstanceOf(TransientError);
    expect(fake.issues).toHaveLength(1);
    expect(recovered?.iid).toBe(1);
  });

  it('issue-missing-repo: getIssue on a repository that does not exist is a config error, not a missing issue', async () => {
    await expect(forge().getIssue({ path: 'acme/other' }, 1)).rejects.toMatchObject({
      code: 'forge_not_found',
    });
    expect(await forge().getIssue(project, 1)).toBeUndefined();
  });

  it('names the field when a response has an unexpected shape', async () => {
    const desk = forge();
    await desk.createIssue(project, issueInput());
    fake.issues[0] = {
      ...(fake.issues[0] as NonNullable<(typeof fake.issues)[0]>),
      state: 'weird' as 'open',
    };
    await expect(desk.getIssue(project, 1)).rejects.toMatchObject({
      code: 'forge_bad_response',
      message: expect.stringContaining('field state'),
    });
  });
});

describe('webhook signatures', () => {
  const secret = 'whsec-test';
  const body = Buffer.from('{"action":"created"}');
  const hex = createHmac('sha256', secret).update(body).digest('hex');

  it('accepts a good GitHub X-Hub-Signature-256 and refuses bad, missing and truncated ones', () => {
    expect(verifyGitHubSignature(secret, body, { 'X-Hub-Signature-256': `sha256=${hex}` })).toEqual({
      ok: true,
    });
    expect(
      verifyGitHubSignature(secret, body, { 'x-hub-signature-256': `sha256=${'0'.repeat(64)}` }),
    ).toEqual({
      ok: false,
      reason: 'signature_mismatch',
    });
    expect(verifyGitHubSignature(secret, body, {})).toEqual({ ok: false, reason: 'signature_missing' });
    expect(
      verifyGitHubSignature(secret, body, { 'x-hub-signature-256': `sha256=${hex.slice(0, 40)}` }),
    ).toEqual({
      ok: false,
      reason: 'signature_malformed',
    });
    expect(verifyGitHubSignature(secret, body, { 'x-hub-signature-256': hex })).toEqual({
      ok: false,
      reason: 'signature_malformed',
    });
    expect(verifyGitHubSignature('other', body, { 'x-hub-signature-256': `sha256=${hex}` }).ok).toBe(false);
  });

  it('accepts Forgejo and Gitea signatures and refuses bad, missing and truncated ones', () => {
    expect(verifyForgejoSignature(secret, body, { 'x-forgejo-signature': hex })).toEqual({ ok: true });
    expect(verifyForgejoSignature(secret, body, { 'X-Gitea-Signature': hex })).toEqual({ ok: true });
    expect(
      verifyForgejoSignature(secret, Buffer.from('{"action":"deleted"}'), { 'x-forgejo-signature': hex }),
    ).toEqual({ ok: false, reason: 'signature_mismatch' });
    expect(verifyForgejoSignature(secret, body, {})).toEqual({ ok: false, reason: 'signature_missing' });
    expect(verifyForgejoSignature(secret, body, { 'x-forgejo-signature': hex.slice(0, 63) })).toEqual({
      ok: false,
      reason: 'signature_malformed',
    });
  });
});

describe('webhook payloads', () => {
  const repository = { id: 3, full_name: 'acme/game', name: 'game' };
  it('turns an issue_comment into comment_created with the author and bot flag', () => {
    const raw = JSON.stringify({
      action: 'created',
      issue: { number: 4, title: 't', pull_request: null },
      comment: { id: 9, body: 'Hello', user: { login: 'postdesk[bot]', type: 'Bot' } },
      repository,
      sender: { login: 'postdesk[bot]', type: 'Bot' },
    });
    expect(parseForgeWebhook('issue_comment', 'd-1', raw)).toEqual({
      ok: true,
      event: {
        kind: 'comment_created',
        projectPath: 'acme/game',
        issueNumber: 4,
        commentBody: 'Hello',
        author: 'postdesk[bot]',
        isBot: true,
        internal: false,
        deliveryId: 'd-1',
      },
    });
  });

  it('turns issues closed/reopened into events and skips the rest with a reason', () => {
    const payload = (action: string, extra: object = {}) =>
      JSON.stringify({
        action,
        issue: { number: 2, ...extra },
        repository,
        sender: { login: 'ana', type: 'User' },
      });
    expect(parseForgeWebhook('issues', 'd', payload('closed'))).toMatchObject({
      ok: true,
      event: { kind: 'issue_closed', author: 'ana', isBot: false },
    });
    expect(parseForgeWebhook('issues', 'd', payload('reopened'))).toMatchObject({
      ok: true,
      event: { kind: 'issue_reopened' },
    });
    expect(parseForgeWebhook('issues', 'd', payload('labeled'))).toEqual({
      ok: false,
      reason: 'action_not_handled',
    });
    expect(parseForgeWebhook('issues', 'd', payload('closed', { pull_request: {} }))).toEqual({
      ok: false,
      reason: 'pull_request',
    });
    expect(parseForgeWebhook('push', 'd', payload('closed'))).toEqual({
      ok: false,
      reason: 'event_not_handled',
    });
    expect(parseForgeWebhook('issues', 'd', '{not json')).toEqual({ ok: false, reason: 'payload_invalid' });
  });
});
