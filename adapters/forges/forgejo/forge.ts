import type { Readable } from 'node:stream';
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
import { type CallSpec, createForgeHttp, type ForgeHttp, type RetryOptions } from './client.ts';

/**
 * The Forgejo/Gitea API v1 forge (Forgejo's swagger, `/api/swagger`; Gitea's `templates/swagger/
 * v1_json.tmpl`). Repositories are `owner/repo`; an issue is addressed by its `index` (`number`).
 *
 * Forgejo has no internal comments and no confidential issues: a note with `internal: true` or an
 * issue with `confidential: true` is refused with a PermanentError naming the config fix, rather
 * than published where the customer's data would be visible to everyone who can read the repository.
 */
export interface ForgejoForgeOptions {
  /** The instance URL, e.g. `https://codeberg.org`; the API is under `/api/v1`. */
  url: string;
  /** The access token (scopes write:issue, read:repository). Never logged. */
  token: () => Promise<string>;
  timeoutMs?: number;
  retry?: RetryOptions;
  logger?: Logger;
  /** Issues per page when listing for a marker. @default 50 */
  pageSize?: number;
  /** Pages read at most when looking for a marker. @default 20 */
  maxPages?: number;
  /** Largest attachment read into memory for the multipart body. @default 25 MiB */
  maxUploadBytes?: number;
}

export interface ForgejoForge extends Forge {
  readonly kind: 'forgejo';
  closeIssue(project: ForgeProjectRef, issueIid: number): Promise<void>;
  /** Attaches a file to an existing issue (`POST .../issues/{index}/assets`, field `attachment`). */
  uploadIssueAsset(project: ForgeProjectRef, issueIid: number, input: UploadInput): Promise<ForgeUpload>;
}

const LabelSchema = z.object({ id: z.number().int(), name: z.string() });
const IssueSchema = z.object({
  id: z.number().int(),
  number: z.number().int(),
  title: z.string(),
  body: z.string().nullable().optional(),
  state: z.enum(['open', 'closed']),
  html_url: z.string(),
  labels: z.array(LabelSchema).nullable().optional(),
  assignees: z
    .array(z.object({ login: z.string() }))
    .nullable()
    .optional(),
  pull_request: z.unknown().optional(),
});
const CommentSchema = z.object({ id: z.number().int(), body: z.string() });
const AttachmentSchema = z.object({
  id: z.number().int(),
  name: z.string(),
  uuid: z.string(),
  browser_download_url: z.string(),
});

type IssueEntity = z.infer<typeof IssueSchema>;

/** Checks a response at the boundary; a PermanentError names the first field that is wrong. */
export const parseEntity = <T>(schema: z.ZodType<T>, body: unknown, forge: string, what: string): T => {
  const result = schema.safeParse(body);
  if (result.success) return result.data;
  const issue = result.error.issues[0];
  const field = issue === undefined || issue.path.length === 0 ? '(body)' : issue.path.join('.');
  throw new PermanentError(
    'forge_bad_response',
    `${forge} answered an unexpected shape when trying to ${what}: field ${field}: ${issue?.message ?? 'invalid'}. ` +
      'Check that forge.url points at the instance (its API root) and that the version is supported.',
  );
};

const repoPath = (project: ForgeProjectRef): string => {
  const parts = project.path.split('/');
  if (parts.length !== 2 || parts.some((p) => p === '' || p === '.' || p === '..')) {
    throw new PermanentError(
      'forge_bad_project',
      `Forgejo repositories are owner/repo; ${JSON.stringify(project.path)} is not: fix projects[].path in the config.`,
    );
  }
  return `/repos/${parts.map(encodeURIComponent).join('/')}`;
};

const checkedIndex = (index: number): number => {
  if (!Number.isSafeInteger(index) || index < 1) {
    throw new PermanentError('forge_bad_issue', `${index} is not an issue number.`);
  }
  return index;
};

const toForgeIssue = (entity: IssueEntity): ForgeIssue => ({
  iid: entity.number,
  id: entity.id,
  title: entity.title,
  state: entity.state === 'open' ? 'opened' : 'closed',
  webUrl: entity.html_url,
  confidential: false,
  labels: (entity.labels ?? []).map((l) => l.name),
  assignees: (entity.assignees ?? []).map((a) => a.login),
});

const readAll = async (content: Readable, limit: number, filename: string): Promise<Buffer> => {
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const chunk of content) {
    const buffer = typeof chunk === 'string' ? Buffer.from(chunk) : (chunk as Buffer);
    size += buffer.length;
    if (size > limit) {
      content.destroy();
      throw new PermanentError(
        'forge_too_large',
        `${JSON.stringify(filename)} is larger than ${limit} bytes: lower limits.max_attachment_bytes in the config.`,
      );
    }
    chunks.push(buffer);
  }
  return Buffer.concat(chunks);
};

export const createForgejoForge = (options: ForgejoForgeOptions): ForgejoForge => {
  const pageSize = options.pageSize ?? 50;
  const maxPages = options.maxPages ?? 20;
  const maxUploadBytes = options.maxUploadBytes ?? 25 * 1024 * 1024;
  const httpOptions: Parameters<typeof createForgeHttp>[0] = {
    forgeName: 'Forgejo',
    apiUrl: `${options.url.replace(/\/+$/, '')}/api/v1`,
    authorization: async () => `token ${await options.token()}`,
    authFix:
      'create an access token for the bot user with the write:issue and read:repository scopes, give the ' +
      'bot write access to the repository, and write the token into the desk secret with `postdesk secret write` (forge_token).',
  };
  if (options.timeoutMs !== undefined) httpOptions.timeoutMs = options.timeoutMs;
  if (options.retry !== undefined) httpOptions.retry = options.retry;
  if (options.logger !== undefined) httpOptions.logger = options.logger;
  const http: ForgeHttp = createForgeHttp(httpOptions);
  const call = (spec: CallSpec) => http.call(spec);

  /** Label ids by name, per repository, read once. */
  const labelCache = new Map<string, Promise<Map<string, number>>>();
  const labelIds = async (project: ForgeProjectRef, names: string[]): Promise<number[]> => {
    if (names.length === 0) return [];
    const base = repoPath(project);
    let cached = labelCache.get(base);
    if (cached === undefined) {
      cached = (async () => {
        const byName = new Map<string, number>();
        for (let page = 1; page <= maxPages; page += 1) {
          const response = await call({
            method: 'GET',
            path: `${base}/labels`,
            query: { page: String(page), limit: String(pageSize) },
            what: 'list labels',
            project: project.path,
          });
          const labels = parseEntity(z.array(LabelSchema), response.body, 'Forgejo', 'list labels');
          for (const label of labels) byName.set(label.name, label.id);
          if (labels.length < pageSize) break;
        }
        return byName;
      })();
      labelCache.set(base, cached);
      cached.catch(() => labelCache.delete(base));
    }
    const byName = await cached;
    const missing = names.filter((n) => !byName.has(n));
    if (missing.length > 0) {
      labelCache.delete(base);
      throw new PermanentError(
        'forge_label_missing',
        `Forgejo repository ${project.path} has no label ${missing.map((m) => JSON.stringify(m)).join(', ')}: ` +
          'create it in the repository’s labels, or remove it from the project’s labels in the config.',
      );
    }
    return names.map((n) => byName.get(n) ?? 0);
  };

  const createIssue = async (project: ForgeProjectRef, input: CreateIssueInput): Promise<ForgeIssue> => {
    if (input.confidential) {
      throw new PermanentError(
        'forge_confidential_unsupported',
        `Forgejo has no confidential issues, so the issue for ${project.path} was not created: make the ` +
          'repository private and set confidential: false for the project in the config.',
      );
    }
    const labels = await labelIds(project, input.labels);
    const response = await call({
      method: 'POST',
      path: `${repoPath(project)}/issues`,
      json: { title: input.title, body: input.description, labels },
      what: 'create an issue',
      project: project.path,
    });
    return toForgeIssue(parseEntity(IssueSchema, response.body, 'Forgejo', 'create an issue'));
  };

  /** Forgejo uploads attach to an issue; the desk uploads before the issue exists, so refuse. */
  const uploadFile = async (_project: ForgeProjectRef, input: UploadInput): Promise<ForgeUpload> => {
    input.content.destroy();
    throw new PermanentError(
      'forge_upload_needs_issue',
      'Forgejo attaches files to an existing issue only: use uploadIssueAsset after the issue is created.',
    );
  };

  const uploadIssueAsset = async (
    project: ForgeProjectRef,
    issueIid: number,
    input: UploadInput,
  ): Promise<ForgeUpload> => {
    const bytes = await readAll(input.content, maxUploadBytes, input.filename);
    const form = new FormData();
    form.append('attachment', new Blob([bytes], { type: input.contentType }), input.filename);
    const response = await call({
      method: 'POST',
      path: `${repoPath(project)}/issues/${checkedIndex(issueIid)}/assets`,
      query: { name: input.filename },
      form,
      what: `upload ${JSON.stringify(input.filename)}`,
      project: project.path,
    });
    const entity = parseEntity(AttachmentSchema, response.body, 'Forgejo', 'upload a file');
    const alt = entity.name.replace(/[[\]\\]/g, '_');
    const image = input.contentType.startsWith('image/') ? '!' : '';
    return {
      markdown: `${image}[${alt}](${entity.browser_download_url})`,
      url: entity.browser_download_url,
      fullUrl: entity.browser_download_url,
      alt,
    };
  };

  const addNote = async (
    project: ForgeProjectRef,
    issueIid: number,
    input: { body: string; internal: boolean },
  ): Promise<ForgeNote> => {
    if (input.internal) {
      throw new PermanentError(
        'forge_internal_unsupported',
        `Forgejo has no internal comments, so the note on ${project.path}#${issueIid} was not posted: ` +
          'turn off internal notes for the project in the config (they would be public on Forgejo).',
      );
    }
    const response = await call({
      method: 'POST',
      path: `${repoPath(project)}/issues/${checkedIndex(issueIid)}/comments`,
      json: { body: input.body },
      what: 'add a comment',
      project: project.path,
    });
    const entity = parseEntity(CommentSchema, response.body, 'Forgejo', 'add a comment');
    return { id: entity.id, body: entity.body, internal: false };
  };

  const getIssue = async (project: ForgeProjectRef, issueIid: number): Promise<ForgeIssue | undefined> => {
    const response = await call({
      method: 'GET',
      path: `${repoPath(project)}/issues/${checkedIndex(issueIid)}`,
      what: 'read an issue',
      project: project.path,
      accept: [404],
    });
    if (response.status === 404) {
      // A missing issue is an answer; a missing (or hidden) repository is a config fault.
      await call({
        method: 'GET',
        path: repoPath(project),
        what: 'read the repository',
        project: project.path,
      });
      return undefined;
    }
    const entity = parseEntity(IssueSchema, response.body, 'Forgejo', 'read an issue');
    // The issues endpoint also answers for pull requests, which share the numbering.
    return entity.pull_request === undefined || entity.pull_request === null
      ? toForgeIssue(entity)
      : undefined;
  };

  const setState = async (project: ForgeProjectRef, issueIid: number, state: 'open' | 'closed') => {
    const response = await call({
      method: 'PATCH',
      path: `${repoPath(project)}/issues/${checkedIndex(issueIid)}`,
      json: { state },
      what: state === 'open' ? 'reopen an issue' : 'close an issue',
      project: project.path,
    });
    parseEntity(IssueSchema, response.body, 'Forgejo', 'change an issue’s state');
  };

  const findIssueByMarker = async (
    project: ForgeProjectRef,
    marker: string,
  ): Promise<ForgeIssue | undefined> => {
    for (let page = 1; page <= maxPages; page += 1) {
      const response = await call({
        method: 'GET',
        path: `${repoPath(project)}/issues`,
        query: { state: 'all', type: 'issues', page: String(page), limit: String(pageSize) },
        what: 'list issues',
        project: project.path,
      });
      const issues = parseEntity(z.array(IssueSchema), response.body, 'Forgejo', 'list issues');
      const found = issues.find((issue) => (issue.body ?? '').includes(marker));
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
    // Forgejo's comment list is not paginated by default: it answers every comment of the issue.
    const response = await call({
      method: 'GET',
      path: `${repoPath(project)}/issues/${checkedIndex(issueIid)}/comments`,
      what: 'list comments',
      project: project.path,
    });
    const comments = parseEntity(z.array(CommentSchema), response.body, 'Forgejo', 'list comments');
    const found = comments.find((c) => c.body.includes(marker));
    return found === undefined ? undefined : { id: found.id, body: found.body, internal: false };
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
      path: `${repoPath(project)}/raw/${segments.map(encodeURIComponent).join('/')}`,
      what: `read ${path}`,
      project: project.path,
      accept: [404],
      raw: true,
    });
    return response.status === 404 ? undefined : response.text;
  };

  return {
    kind: 'forgejo',
    createIssue,
    uploadFile,
    addNote,
    getIssue,
    reopenIssue: (project, iid) => setState(project, iid, 'open'),
    closeIssue: (project, iid) => setState(project, iid, 'closed'),
    findIssueByMarker,
    findNoteByMarker,
    readRepoFile,
    uploadIssueAsset,
  };
};
