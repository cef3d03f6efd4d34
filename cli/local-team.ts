import type { FileForge, FileIssueView } from '../adapters/forges/file/index.ts';
import type { DeskConfig, ProjectConfig } from '../core/config/schema.ts';
import { PermanentError } from '../core/errors.ts';
import type { WebhookRequest, WebhookResponse } from '../core/outbound/webhook.ts';
import type { SecretSource } from '../core/ports.ts';

/**
 * The team's side of the local desk: answering a ticket on the file forge the way a person answers
 * on GitLab. The note (or the state change) is written to the file forge, then the event GitLab
 * would send (a Note Hook, an Issue Hook; GitLab's `doc/user/project/integrations/webhook_events.md`)
 * is posted to the desk's own webhook handler with the desk's `webhook_token`, so what follows (the
 * webhook decision, the outbound job, the mail in `.postdesk/outbox/`) is exactly the path a real
 * GitLab note takes. Used by `postdesk reply` and by the console's reply box.
 */

export interface TeamReplyInput {
  /** The project path (`demo/support`) or its key (`demo`). */
  project: string;
  iid: number;
  /** Markdown; empty with a state change only closes or reopens. */
  message: string;
  internal: boolean;
  state?: 'close' | 'reopen' | undefined;
  /** Who answers, as a GitLab username. @default 'support-team' */
  author?: string | undefined;
}

export interface TeamReplyResult {
  project: string;
  iid: number;
  noteId?: number | undefined;
  /** Mails the webhook queued (and, locally, wrote to the outbox at once). */
  queued: number;
  /** Why no mail went, in the webhook's words (`internal_note`, `no_recipients`, ...). */
  ignored?: string | undefined;
  state: 'opened' | 'closed';
}

export interface TeamDeps {
  config: DeskConfig;
  forge: FileForge;
  secrets: SecretSource;
  handleWebhook: (request: WebhookRequest) => Promise<WebhookResponse>;
}

export const DEFAULT_TEAM_AUTHOR = 'support-team';

/** A project named by path (case-insensitive, as GitLab's) or by key. */
export const findProject = (config: DeskConfig, name: string): ProjectConfig => {
  const project =
    config.projects.find((candidate) => candidate.path.toLowerCase() === name.toLowerCase()) ??
    config.projects.find((candidate) => candidate.key === name);
  if (!project) {
    const known = config.projects.map((candidate) => `${candidate.path} (key ${candidate.key})`).join(', ');
    throw new PermanentError(
      'project_unknown',
      `no project ${JSON.stringify(name)} in the config; it has ${known}`,
    );
  }
  return project;
};

/** `demo/support#1` or `demo#1` into its parts. */
export const parseTicketRef = (text: string): { project: string; iid: number } => {
  const match = /^(.+)#(\d+)$/.exec(text.trim());
  const iid = Number(match?.[2]);
  if (!match?.[1] || !Number.isSafeInteger(iid) || iid <= 0) {
    throw new PermanentError(
      'usage',
      `${JSON.stringify(text)} is not a ticket: write <project>#<number>, e.g. demo/support#1`,
    );
  }
  return { project: match[1], iid };
};

const hookUser = (username: string) => ({
  id: 1,
  name: username,
  username,
  avatar_url: null,
  email: '[REDACTED]',
});

const hookProject = (project: ProjectConfig) => ({
  id: project.id ?? 1,
  name: project.path.split('/').at(-1) ?? project.path,
  path_with_namespace: project.path,
  web_url: `file:///${project.path}`,
});

const post = async (
  deps: TeamDeps,
  event: 'Note Hook' | 'Issue Hook',
  payload: unknown,
): Promise<{ queued: number; ignored?: string | undefined }> => {
  const token = (await deps.secrets.get()).webhook_token;
  const response = await deps.handleWebhook({
    method: 'POST',
    path: '/',
    headers: {
      'content-type': 'application/json',
      'x-gitlab-event': event,
      ...(token === undefined ? {} : { 'x-gitlab-token': token }),
    },
    body: Buffer.from(JSON.stringify(payload)),
  });
  let body: { queued?: unknown; ignored?: unknown; error?: unknown } = {};
  try {
    body = JSON.parse(response.body) as typeof body;
  } catch {
    // Not JSON: reported below by status.
  }
  if (response.status !== 200) {
    throw new PermanentError(
      'webhook_refused',
      `the desk's webhook answered ${response.status} (${String(body.error ?? response.body)})${
        response.status === 401 ? ': the local secret has no webhook_token; `postdesk serve` creates one' : ''
      }`,
    );
  }
  return {
    queued: typeof body.queued === 'number' ? body.queued : 0,
    ...(typeof body.ignored === 'string' ? { ignored: body.ignored } : {}),
  };
};

const issueHookPayload = (
  project: ProjectConfig,
  issue: FileIssueView,
  action: 'close' | 'reopen',
  author: string,
) => ({
  object_kind: 'issue',
  event_type: issue.confidential ? 'confidential_issue' : 'issue',
  user: hookUser(author),
  project: hookProject(project),
  object_attributes: {
    id: issue.id,
    iid: issue.iid,
    title: issue.title,
    state: action === 'close' ? 'closed' : 'opened',
    action,
    confidential: issue.confidential,
    url: issue.webUrl,
  },
});

/** Answers a ticket as the team: the note, then the state change, each followed by its hook. */
export const teamReply = async (deps: TeamDeps, input: TeamReplyInput): Promise<TeamReplyResult> => {
  const project = findProject(deps.config, input.project);
  const ref = { path: project.path, ...(project.id === undefined ? {} : { id: project.id }) };
  const author = input.author ?? DEFAULT_TEAM_AUTHOR;
  const thread = await deps.forge.readThread(ref, input.iid);
  if (!thread) {
    throw new PermanentError('forge_not_found', `there is no ticket ${project.path}#${input.iid}`);
  }
  const message = input.message.trim();
  if (message === '' && input.state === undefined) {
    throw new PermanentError('usage', 'nothing to do: give a message, or --close or --reopen');
  }
  let result: TeamReplyResult = {
    project: project.path,
    iid: input.iid,
    queued: 0,
    state: thread.issue.state,
  };
  // GitLab: reopening comes before a comment on a closed issue; closing after the last word.
  if (input.state === 'reopen' && thread.issue.state === 'closed') {
    await deps.forge.setState(ref, input.iid, 'opened');
    await post(deps, 'Issue Hook', issueHookPayload(project, thread.issue, 'reopen', author));
    result = { ...result, state: 'opened' };
  }
  if (message !== '') {
    const note = await deps.forge.addNote(ref, input.iid, {
      body: message,
      internal: input.internal,
      author,
    });
    const hook = await post(deps, 'Note Hook', {
      object_kind: 'note',
      event_type: input.internal || thread.issue.confidential ? 'confidential_note' : 'note',
      user: hookUser(author),
      project_id: hookProject(project).id,
      project: hookProject(project),
      object_attributes: {
        id: note.id,
        note: message,
        noteable_type: 'Issue',
        system: false,
        internal: input.internal,
        confidential: input.internal,
        action: 'create',
        url: `${thread.issue.webUrl}#note_${note.id}`,
      },
      issue: {
        id: thread.issue.id,
        iid: thread.issue.iid,
        title: thread.issue.title,
        confidential: thread.issue.confidential,
        state: result.state,
        url: thread.issue.webUrl,
      },
    });
    result = { ...result, noteId: note.id, queued: hook.queued, ignored: hook.ignored };
  }
  if (input.state === 'close' && result.state === 'opened') {
    await deps.forge.setState(ref, input.iid, 'closed');
    await post(deps, 'Issue Hook', issueHookPayload(project, thread.issue, 'close', author));
    result = { ...result, state: 'closed' };
  }
  return result;
};
