import * as z from 'zod';
import { PermanentError } from '../../../core/errors.ts';
import type {
  CreateIssueInput,
  Forge,
  ForgeIssue,
  ForgeNote,
  ForgeProjectRef,
  ForgeUpload,
  Logger,
  UploadInput,
} from '../../../core/ports.ts';
import { type CallSpec, createForgeHttp, type RetryOptions } from '../forgejo/client.ts';
import { parseEntity } from '../forgejo/forge.ts';

/**
 * The GitHub REST forge (docs.github.com/rest/issues, API version 2022-11-28). GitHub has no upload
 * API for issue attachments: the desk keeps the file in its own store and links it with a signed
 * URL, so `uploadFile` delegates to the injected `attachments`. GitHub has no internal comments or
 * confidential issues: those are refused with a PermanentError naming the config fix. Markers are
 * found without the search API (its index lags and has its own rate limit) by listing the bot's
 * own issues (`creator`, `since`, `state=all`), newest first.
 */
export interface AttachmentStore {
  /** Keeps the file and returns the link to embed (a signed URL). */
  put(project: ForgeProjectRef, input: UploadInput): Promise<ForgeUpload>;
}

export interface GitHubForgeOptions {
  /** @default https://api.github.com */
  apiUrl?: string;
  /** A fine-grained token, or an App installation token source (`createAppTokenSource`). */
  token: () => Promise<string>;
  /** The bot's login: marker recovery lists only its issues. */
  botLogin: string;
  attachments: AttachmentStore;
  /** How far back marker recovery looks, in ms. @default 7 days */
  recoveryWindowMs?: number;
  pageSize?: number;
  maxPages?: number;
  timeoutMs?: number;
  retry?: RetryOptions;
  logger?: Logger;
  now?: () => number;
}

export interface GitHubForge extends Forge {
  readonly kind: 'github';
  closeIssue(project: ForgeProjectRef, issueIid: number): Promise<void>;
}

const IssueSchema = z.object({
  id: z.number().int(),
  number: z.number().int(),
  title: z.string(),
  body: z.string().nullable().optional(),
  state: z.enum(['open', 'closed']),
  html_url: z.string(),
  labels: z.array(z.union([z.string(), z.object({ name: z.string() })])),
  assignees: z
    .array(z.object({ login: z.string() }))
    .nullable()
    .optional(),
  pull_request: z.unknown().optional(),
});
const CommentSchema = z.object({ id: z.number().int(), body: z.string().nullable().optional() });
type IssueEntity = z.infer<typeof IssueSchema>;

const toForgeIssue = (entity: IssueEntity): ForgeIssue => ({
  iid: entity.number,
  id: entity.id,
  title: entity.title,
  state: entity.state === 'open' ? 'opened' : 'closed',
  webUrl: entity.html_url,
  confidential: false,
  labels: entity.labels.map((l) => (typeof l === 'string' ? l : l.name)),
  assignees: (entity.assignees ?? []).map((a) => a.login),
});

const repoPath = (project: ForgeProjectRef): string => {
  const parts = project.path.split('/');
  if (parts.length !== 2 || parts.some((p) => p === '' || p === '.' || p === '..')) {
    throw new PermanentError(
      'forge_bad_project',
      `GitHub repositories are owner/repo; ${JSON.stringify(project.path)} is not: fix projects[].path in the config.`,
    );
  }
  return `/repos/${parts.map(encodeURIComponent).join('/')}`;
};

const checkedNumber = (n: number): number => {
  if (!Number.isSafeInteger(n) || n < 1)
    throw new PermanentError('forge_bad_issue', `${n} is not an issue number.`);
  return n;
};

export const createGitHubForge = (options: GitHubForgeOptions): GitHubForge => {
  const pageSize = options.pageSize ?? 100;
  const maxPages = options.maxPages ?? 10;
  const now = options.now ?? Date.now;
  const windowMs = options.recoveryWindowMs ?? 7 * 24 * 3_600_000;
  const httpOptions: Parameters<typeof createForgeHttp>[0] = {
    forgeName: 'GitHub',
    apiUrl: options.apiUrl ?? 'https://api.github.com',
    authorization: async () => `Bearer ${await options.token()}`,
    headers: { accept: 'application/vnd.github+json', 'x-github-api-version': '2022-11-28' },
    authFix:
      'use a fine-grained token (or GitHub App installation) with Issues: read and write and Contents: read on ' +
      'the repository, and write it into the desk secret with `postdesk secret write` (forge_token).',
    now,
  };
  if (options.timeoutMs !== undefined) httpOptions.timeoutMs = options.timeoutMs;
  if (options.retry !== undefined) httpOptions.retry = options.retry;
  if (options.logger !== undefined) httpOptions.logger = options.logger;
  const http = createForgeHttp(httpOptions);
  const call = (spec: CallSpec) => http.call(spec);

  const createIssue = async (project: ForgeProjectRef, input: CreateIssueInput): Promise<ForgeIssue> => {
    if (input.confidential) {
      throw new PermanentError(
        'forge_confidential_unsupported',
        `GitHub has no confidential issues, so the issue for ${project.path} was not created: make the ` +
          'repository private and set confidential: false for the project in the config.',
      );
    }
    const response = await call({
      method: 'POST',
      path: `${repoPath(project)}/issues`,
      json: { title: input.title, body: input.description, labels: input.labels },
      what: 'create an issue',
      project: project.path,
    });
    return toForgeIssue(parseEntity(IssueSchema, response.body, 'GitHub', 'create an issue'));
  };

  const addNote = async (
    project: ForgeProjectRef,
    issueIid: number,
    input: { body: string; internal: boolean },
  ): Promise<ForgeNote> => {
    if (input.internal) {
      throw new PermanentError(
        'forge_internal_unsupported',
        `GitHub has no internal comments, so the note on ${project.path}#${issueIid} was not posted: ` +
          'turn off internal notes for the project in the config (they would be public on GitHub).',
      );
    }
    const response = await call({
      method: 'POST',
      path: `${repoPath(project)}/issues/${checkedNumber(issueIid)}/comments`,
      json: { body: input.body },
      what: 'add a comment',
      project: project.path,
    });
    const entity = parseEntity(CommentSchema, response.body, 'GitHub', 'add a comment');
    return { id: entity.id, body: entity.body ?? '', internal: false };
  };

  const getIssue = async (project: ForgeProjectRef, issueIid: number): Promise<ForgeIssue | undefined> => {
    const response = await call({
      method: 'GET',
      path: `${repoPath(project)}/issues/${checkedNumber(issueIid)}`,
      what: 'read an issue',
      project: project.path,
      accept: [404, 410],
    });
    if (response.status === 404 || response.status === 410) {
      // A missing issue is an answer; a missing (or hidden) repository is a config fault.
      await call({
        method: 'GET',
        path: repoPath(project),
        what: 'read the repository',
        project: project.path,
      });
      return undefined;
    }
    const entity = parseEntity(IssueSchema, response.body, 'GitHub', 'read an issue');
    return entity.pull_request === undefined || entity.pull_request === null
      ? toForgeIssue(entity)
      : undefined;
  };

  const setState = async (project: ForgeProjectRef, issueIid: number, state: 'open' | 'closed') => {
    const response = await call({
      method: 'PATCH',
      path: `${repoPath(project)}/issues/${checkedNumber(issueIid)}`,
      json: { state },
      what: state === 'open' ? 'reopen an issue' : 'close an issue',
      project: project.path,
    });
    parseEntity(IssueSchema, response.body, 'GitHub', 'change an issue’s state');
  };

  const findIssueByMarker = async (
    project: ForgeProjectRef,
    marker: string,
  ): Promise<ForgeIssue | undefined> => {
    const since = new Date(now() - windowMs).toISOString();
    for (let page = 1; page <= maxPages; page += 1) {
      const response = await call({
        method: 'GET',
        path: `${repoPath(project)}/issues`,
        query: {
          creator: options.botLogin,
          since,
          state: 'all',
          sort: 'created',
          direction: 'desc',
          per_page: String(pageSize),
          page: String(page),
        },
        what: 'list issues',
        project: project.path,
      });
      const issues = parseEntity(z.array(IssueSchema), response.body, 'GitHub', 'list issues');
      const found = issues.find(
        (i) => (i.pull_request === undefined || i.pull_request === null) && (i.body ?? '').includes(marker),
      );
      if (found !== undefined) return toForgeIssue(found);
      if (issues.length < pageSize) return undefined;
    }
    return undefined;
  };

  const findNoteByMarker = async (
    project: ForgeProjectRef,
    issueIid: number,
    marker: string,
  ): Promise<ForgeNote | undefined> => {
    for (let page = 1; page <= maxPages; page += 1) {
      const response = await call({
        method: 'GET',
        path: `${repoPath(project)}/issues/${checkedNumber(issueIid)}/comments`,
        query: { per_page: String(pageSize), page: String(page) },
        what: 'list comments',
        project: project.path,
      });
      const comments = parseEntity(z.array(CommentSchema), response.body, 'GitHub', 'list comments');
      const found = comments.find((c) => (c.body ?? '').includes(marker));
      if (found !== undefined) return { id: found.id, body: found.body ?? '', internal: false };
      if (comments.length < pageSize) return undefined;
    }
    return undefined;
  };

  const readRepoFile = async (project: ForgeProjectRef, path: string): Promise<string | undefined> => {
    const segments = path.split('/').filter((s) => s !== '');
    if (segments.some((s) => s === '.' || s === '..')) {
      throw new PermanentError(
        'forge_bad_path',
        `${JSON.stringify(path)} is not a file path in the repository.`,
      );
    }
    const response = await call({
      method: 'GET',
      path: `${repoPath(project)}/contents/${segments.map(encodeURIComponent).join('/')}`,
      headers: { accept: 'application/vnd.github.raw+json' },
      what: `read ${path}`,
      project: project.path,
      accept: [404],
      raw: true,
    });
    return response.status === 404 ? undefined : response.text;
  };

  return {
    kind: 'github',
    createIssue,
    uploadFile: (project, input) => options.attachments.put(project, input),
    addNote,
    getIssue,
    reopenIssue: (project, iid) => setState(project, iid, 'open'),
    closeIssue: (project, iid) => setState(project, iid, 'closed'),
    findIssueByMarker,
    findNoteByMarker,
    readRepoFile,
  };
};
