import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { Readable } from 'node:stream';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { createGitLabAdmin, createGitLabForge } from '../../adapters/forges/gitlab/index.ts';
import { PermanentError } from '../../core/errors.ts';
import { type FakeGitLab, startFakeGitLab } from '../support/fake-gitlab.ts';

/**
 * GitLab's answers are checked where they enter the adapter (adapters/forges/gitlab/schemas.ts):
 * a 2xx answer without a field Postdesk reads, or with the wrong type, is a forge_bad_response
 * PermanentError that names the endpoint, the field path and what was expected. Fields Postdesk
 * does not read, and fields a newer GitLab adds, are accepted.
 */

const project = { path: 'acme/game' };
const CORPUS = join(import.meta.dirname, '../fixtures/corpus/api/gitlab');

/** GitLab's documented example of an issue (`doc/api/issues.md`, "New issue"). */
const documentedIssue = (): Record<string, unknown> =>
  JSON.parse(readFileSync(join(CORPUS, 'post-projects-id-issues.response.json'), 'utf8'));

let gitlab: FakeGitLab;

beforeEach(async () => {
  gitlab = await startFakeGitLab();
});

afterEach(async () => {
  await gitlab.close();
});

const forge = () => createGitLabForge({ url: gitlab.url, token: async () => gitlab.token });

/** The next answer is `status` with `body` as JSON (or verbatim, for a string). */
const answerNext = (status: number, body: unknown): void =>
  gitlab.failNext(1, { status, body: typeof body === 'string' ? body : JSON.stringify(body) });

const issueInput = { title: 'Printer on fire', description: 'It smokes.', labels: [], confidential: false };

const rejection = async (attempt: Promise<unknown>): Promise<PermanentError> => {
  const error = await attempt.then(
    () => undefined,
    (thrown: unknown) => thrown,
  );
  expect(error).toBeInstanceOf(PermanentError);
  expect(error).toMatchObject({ code: 'forge_bad_response' });
  return error as PermanentError;
};

describe('GitLab answers are checked where they enter', () => {
  it('an issue without iid: names the endpoint, the field and what was expected, and is not retried', async () => {
    // Prepare
    const { iid: _iid, ...withoutIid } = documentedIssue();
    answerNext(201, withoutIid);

    // Act
    const error = await rejection(forge().createIssue(project, issueInput));

    // Assess
    expect(error.message).toContain('201 answer to POST /projects/acme%2Fgame/issues,');
    expect(error.message).toContain('to create an issue in project acme/game, is not what Postdesk expects');
    expect(error.message).toContain('iid: missing (expected number)');
    expect(gitlab.requests.filter((request) => request.method === 'POST')).toHaveLength(1);
  });

  it('a wrong type: says what was expected and what came', async () => {
    // Prepare
    answerNext(200, { ...documentedIssue(), iid: '14', labels: 'bug' });

    // Act
    const error = await rejection(forge().getIssue(project, 14));

    // Assess
    expect(error.message).toContain('200 answer to GET /projects/acme%2Fgame/issues/14,');
    expect(error.message).toContain('iid: expected number, received string');
    expect(error.message).toContain('labels: expected array, received string');
  });

  it('a list: the path names the element', async () => {
    // Prepare
    const marker = 'postdesk-marker-0123456789';
    answerNext(200, [documentedIssue(), { ...documentedIssue(), labels: ['bug', 7] }]);

    // Act
    const error = await rejection(forge().findIssueByMarker(project, marker));

    // Assess
    expect(error.message).toContain('[1].labels[1]: expected string, received number');
  });

  it('a body that is not JSON, or not the expected kind of JSON', async () => {
    answerNext(200, '<html>Sign in</html>');
    expect((await rejection(forge().getIssue(project, 14))).message).toContain('the body is not JSON');

    answerNext(200, { message: 'ok' });
    expect(
      (await rejection(forge().findIssueByMarker(project, 'postdesk-marker-0123456789'))).message,
    ).toContain('the answer: expected array, received object');
  });

  it('accepts fields it does not read, and fields a newer GitLab adds', async () => {
    // Prepare
    answerNext(201, {
      ...documentedIssue(),
      iid: 14,
      health_status: null,
      future_field: { nested: [1, 'two'] },
      assignees: [{ id: 9, username: 'ada', avatar_url: null, extra: true }],
    });

    // Act
    const issue = await forge().createIssue(project, issueInput);

    // Assess
    expect(issue).toMatchObject({ iid: 14, id: 84, title: 'Issues with auth', assignees: ['ada'] });
  });

  it('a note without a body, and an upload without markdown', async () => {
    const created = await forge().createIssue(project, issueInput);

    answerNext(201, { id: 3, internal: false, system: false });
    const note = await rejection(forge().addNote(project, created.iid, { body: 'Hello', internal: false }));
    expect(note.message).toContain(`201 answer to POST /projects/acme%2Fgame/issues/${created.iid}/notes,`);
    expect(note.message).toContain('body: missing (expected string)');

    answerNext(201, { id: 5, alt: 'dk', url: '/uploads/abc/dk.png' });
    const upload = await rejection(
      forge().uploadFile(project, {
        filename: 'dk.png',
        contentType: 'image/png',
        content: Readable.from([Buffer.from('png')]),
        size: 3,
      }),
    );
    expect(upload.message).toContain('201 answer to POST /projects/acme%2Fgame/uploads,');
    expect(upload.message).toContain('markdown: missing (expected string)');
  });

  it('the admin helpers of postdesk doctor', async () => {
    const admin = createGitLabAdmin({ url: gitlab.url, token: async () => gitlab.token });

    answerNext(200, { id: '2', username: 'postdesk-bot', name: 'Postdesk Bot' });
    const user = await rejection(admin.currentUser());
    expect(user.message).toContain('200 answer to GET /user,');
    expect(user.message).toContain('id: expected number, received string; state: missing (expected string)');

    answerNext(200, [{ id: 1, url: 'https://desk.example.com/webhook', issues_events: 'yes' }]);
    const hooks = await rejection(admin.listHooks(project.path));
    expect(hooks.message).toContain('[0].issues_events: expected boolean, received string');
  });
});
