import * as z from 'zod';
import { PermanentError } from '../../../core/errors.ts';
import type {
  CreateIssueInput,
  Forge,
  ForgeIssue,
  ForgeNote,
  ForgeProjectRef,
  ForgeUpload,
  UploadInput,
} from '../../../core/ports.ts';
import { createGitLabClient, type GitLabClient } from './client.ts';
import { GITLAB_DEFAULTS } from './constants.ts';
import {
  type GitLabIssueEntity,
  GitLabIssueSchema,
  type GitLabNoteEntity,
  GitLabNoteSchema,
  GitLabUploadSchema,
} from './schemas.ts';
import type { GitLabForgeOptions } from './types.ts';

/**
 * The GitLab REST v4 forge. Each method is one or a few calls; the client holds the policy
 * (auth refresh, retries, error mapping). Projects are addressed by their URL-encoded full path
 * (`acme%2Fgame`), which GitLab accepts wherever it takes a project id.
 */
export interface GitLabForge extends Forge {
  readonly kind: 'gitlab';
}

/** The `:id` of a project in a GitLab API path. */
export const projectId = (path: string): string => encodeURIComponent(path);

export const createGitLabForge = (options: GitLabForgeOptions): GitLabForge => {
  const client = createGitLabClient(options);
  return createGitLabForgeWith(client);
};

/** The forge over an existing client (shared with the admin helpers). */
export const createGitLabForgeWith = (client: GitLabClient): GitLabForge => {
  const issuePath = (project: ForgeProjectRef, iid: number): string =>
    `/projects/${projectId(project.path)}/issues/${checkedIid(iid)}`;

  /** Throws forge_not_found when the project itself is missing (or hidden from the bot). */
  const ensureProject = async (project: ForgeProjectRef, what: string): Promise<void> => {
    await client.call({
      method: 'GET',
      path: `/projects/${projectId(project.path)}`,
      what,
      project: project.path,
    });
  };

  const createIssue = async (project: ForgeProjectRef, input: CreateIssueInput): Promise<ForgeIssue> => {
    const response = await client.call({
      method: 'POST',
      path: `/projects/${projectId(project.path)}/issues`,
      // `labels` is a comma-separated string in the API; a label cannot contain a comma anyway.
      json: {
        title: input.title,
        description: input.description,
        labels: input.labels.join(','),
        confidential: input.confidential,
      },
      what: 'create an issue',
      project: project.path,
    });
    return toForgeIssue(response.json(GitLabIssueSchema));
  };

  const uploadFile = async (project: ForgeProjectRef, input: UploadInput): Promise<ForgeUpload> => {
    const response = await client.upload({
      path: `/projects/${projectId(project.path)}/uploads`,
      field: 'file',
      filename: input.filename,
      contentType: input.contentType,
      content: input.content,
      size: input.size,
      what: `upload ${JSON.stringify(input.filename)}`,
      project: project.path,
    });
    const entity = response.json(GitLabUploadSchema);
    const upload: ForgeUpload = { markdown: entity.markdown, url: entity.url, alt: entity.alt };
    // `full_path` (`/-/project/<id>/uploads/<secret>/<name>` since GitLab 17.1) is absolute on
    // the instance's host; older instances omit it.
    if (entity.full_path !== undefined) {
      upload.fullUrl = new URL(entity.full_path, client.baseUrl.origin).toString();
    }
    return upload;
  };

  const addNote = async (
    project: ForgeProjectRef,
    issueIid: number,
    input: { body: string; internal: boolean },
  ): Promise<ForgeNote> => {
    const response = await client.call({
      method: 'POST',
      path: `${issuePath(project, issueIid)}/notes`,
      json: { body: input.body, internal: input.internal },
      what: `add ${input.internal ? 'an internal' : 'a'} note to issue #${issueIid}`,
      project: project.path,
    });
    return toForgeNote(response.json(GitLabNoteSchema));
  };

  const getIssue = async (project: ForgeProjectRef, issueIid: number): Promise<ForgeIssue | undefined> => {
    const what = `read issue #${issueIid}`;
    const response = await client.call({
      method: 'GET',
      path: issuePath(project, issueIid),
      allowNotFound: true,
      what,
      project: project.path,
    });
    if (response.status === 404) {
      // 404 means either "no such issue" (an answer) or "no such project" (a config error).
      await ensureProject(project, what);
      return undefined;
    }
    return toForgeIssue(response.json(GitLabIssueSchema));
  };

  const reopenIssue = async (project: ForgeProjectRef, issueIid: number): Promise<void> => {
    await client.call({
      method: 'PUT',
      path: issuePath(project, issueIid),
      json: { state_event: 'reopen' },
      what: `reopen issue #${issueIid}`,
      project: project.path,
    });
  };

  const findIssueByMarker = async (
    project: ForgeProjectRef,
    marker: string,
  ): Promise<ForgeIssue | undefined> => {
    checkMarker(marker);
    for (let page = 1; page <= GITLAB_DEFAULTS.markerSearchPages; page++) {
      const response = await client.call({
        method: 'GET',
        path: `/projects/${projectId(project.path)}/issues`,
        // No `state`: all issues, closed ones included (a crash may precede someone closing it).
        query: { search: marker, in: 'description', per_page: 100, page },
        what: 'search issues for a delivery marker',
        project: project.path,
      });
      // GitLab's search is fuzzy (words, trigrams): only an exact substring counts.
      const found = response
        .json(z.array(GitLabIssueSchema))
        .find((issue) => issue.description?.includes(marker) === true);
      if (found !== undefined) return toForgeIssue(found);
      if (!hasNextPage(response.headers['x-next-page'])) return undefined;
    }
    return undefined;
  };

  const findNoteByMarker = async (
    project: ForgeProjectRef,
    issueIid: number,
    marker: string,
  ): Promise<ForgeNote | undefined> => {
    checkMarker(marker);
    // Newest first: a note being recovered was written moments ago.
    for (let page = 1; page <= GITLAB_DEFAULTS.markerNotePages; page++) {
      const response = await client.call({
        method: 'GET',
        path: `${issuePath(project, issueIid)}/notes`,
        query: { sort: 'desc', order_by: 'created_at', per_page: 100, page },
        what: `read the notes of issue #${issueIid}`,
        project: project.path,
      });
      const found = response
        .json(z.array(GitLabNoteSchema))
        .find((note) => note.system !== true && note.body.includes(marker));
      if (found !== undefined) return toForgeNote(found);
      if (!hasNextPage(response.headers['x-next-page'])) return undefined;
    }
    return undefined;
  };

  const readRepoFile = async (project: ForgeProjectRef, path: string): Promise<string | undefined> => {
    const what = `read ${path} from the default branch`;
    const response = await client.call({
      method: 'GET',
      path: `/projects/${projectId(project.path)}/repository/files/${encodeURIComponent(path)}/raw`,
      query: { ref: 'HEAD' },
      allowNotFound: true,
      what,
      project: project.path,
    });
    if (response.status === 404) {
      // A missing file is an answer; a missing project is a config error. Ask the project.
      await ensureProject(project, what);
      return undefined;
    }
    return response.text();
  };

  return {
    kind: 'gitlab',
    createIssue,
    uploadFile,
    addNote,
    getIssue,
    reopenIssue,
    findIssueByMarker,
    findNoteByMarker,
    readRepoFile,
  };
};

const checkedIid = (iid: number): number => {
  if (!Number.isSafeInteger(iid) || iid <= 0) {
    throw new PermanentError('forge_invalid_request', `An issue iid must be a positive integer, not ${iid}.`);
  }
  return iid;
};

const checkMarker = (marker: string): void => {
  // A short marker would match unrelated text; Postdesk's markers are long and random.
  if (marker.trim().length < 8) {
    throw new PermanentError('forge_invalid_request', 'A delivery marker must be at least 8 characters.');
  }
};

const hasNextPage = (header: string | string[] | undefined): boolean => {
  const value = Array.isArray(header) ? header[0] : header;
  return value !== undefined && value.trim() !== '';
};

export const toForgeIssue = (entity: GitLabIssueEntity): ForgeIssue => ({
  iid: entity.iid,
  id: entity.id,
  title: entity.title,
  state: entity.state === 'closed' ? 'closed' : 'opened',
  webUrl: entity.web_url,
  confidential: entity.confidential,
  labels: entity.labels,
  assignees: (entity.assignees ?? []).map((a) => a.username),
});

export const toForgeNote = (entity: GitLabNoteEntity): ForgeNote => ({
  id: entity.id,
  body: entity.body,
  // `internal` since GitLab 15.5; `confidential` is the older name of the same flag.
  internal: entity.internal ?? entity.confidential ?? false,
});
