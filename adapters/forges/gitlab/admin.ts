import * as z from 'zod';
import { createGitLabClient, type GitLabClient } from './client.ts';
import { GITLAB_ACCESS_LEVELS, type GitLabRole } from './constants.ts';
import { projectId } from './forge.ts';
import {
  GitLabHookSchema,
  GitLabMemberSchema,
  GitLabProjectSchema,
  GitLabTokenSchema,
  GitLabUserSchema,
} from './schemas.ts';
import type { GitLabForgeOptions } from './types.ts';

/**
 * Read-only questions `postdesk doctor` asks GitLab: who the bot is, what its token may do, what
 * role it has on each project and which webhooks point where. Same client, same error mapping as
 * the forge: a bad token is forge_unauthorized, a missing project forge_not_found.
 */
export interface GitLabAdmin {
  /** `GET /user`: the account the token belongs to. */
  currentUser(): Promise<GitLabBotUser>;
  /**
   * `GET /personal_access_tokens/self` (GitLab 15.5+; project and group access tokens answer too).
   * Undefined on an instance too old to say.
   */
  tokenScopes(): Promise<GitLabTokenInfo | undefined>;
  /** The bot's effective access to a project, inherited membership included. */
  projectAccess(path: string): Promise<GitLabProjectAccess>;
  /** `GET /projects/:id/hooks`; needs the Maintainer role (a 403 says so). */
  listHooks(path: string): Promise<GitLabHook[]>;
}

export interface GitLabBotUser {
  id: number;
  username: string;
  name: string;
  state: string;
  /** True for bot users (project/group access tokens, service accounts). */
  bot: boolean;
}

export interface GitLabTokenInfo {
  name: string;
  scopes: string[];
  active: boolean;
  revoked: boolean;
  /** `YYYY-MM-DD`, or undefined for a token that does not expire. */
  expiresAt: string | undefined;
}

export interface GitLabProjectAccess {
  projectId: number;
  /** The project's canonical full path (GitLab follows renames; this is where it lives now). */
  path: string;
  webUrl: string;
  /** 0 when the bot is not a member (it may still see a public or internal project). */
  accessLevel: number;
  role: GitLabRole | 'custom';
}

export interface GitLabHook {
  id: number;
  url: string;
  issuesEvents: boolean;
  confidentialIssuesEvents: boolean;
  noteEvents: boolean;
  confidentialNoteEvents: boolean;
  enableSslVerification: boolean;
}

export const roleOf = (accessLevel: number): GitLabRole | 'custom' =>
  (GITLAB_ACCESS_LEVELS as Record<number, GitLabRole>)[accessLevel] ?? 'custom';

export const createGitLabAdmin = (options: GitLabForgeOptions): GitLabAdmin =>
  createGitLabAdminWith(createGitLabClient(options));

export const createGitLabAdminWith = (client: GitLabClient): GitLabAdmin => {
  const currentUser = async (): Promise<GitLabBotUser> => {
    const user = (await client.call({ method: 'GET', path: '/user', what: 'read the bot user' })).json(
      GitLabUserSchema,
    );
    return {
      id: user.id,
      username: user.username,
      name: user.name,
      state: user.state,
      bot: user.bot === true,
    };
  };

  const tokenScopes = async (): Promise<GitLabTokenInfo | undefined> => {
    const response = await client.call({
      method: 'GET',
      path: '/personal_access_tokens/self',
      allowNotFound: true,
      what: 'read the bot token’s scopes',
    });
    if (response.status === 404) return undefined;
    const token = response.json(GitLabTokenSchema);
    return {
      name: token.name,
      scopes: token.scopes,
      active: token.active,
      revoked: token.revoked,
      expiresAt: token.expires_at ?? undefined,
    };
  };

  const projectAccess = async (path: string): Promise<GitLabProjectAccess> => {
    const what = 'read the bot’s role';
    const project = (
      await client.call({ method: 'GET', path: `/projects/${projectId(path)}`, what, project: path })
    ).json(GitLabProjectSchema);
    const user = await currentUser();
    const response = await client.call({
      method: 'GET',
      path: `/projects/${projectId(path)}/members/all/${user.id}`,
      allowNotFound: true,
      what,
      project: path,
    });
    const accessLevel = response.status === 404 ? 0 : response.json(GitLabMemberSchema).access_level;
    return {
      projectId: project.id,
      path: project.path_with_namespace,
      webUrl: project.web_url,
      accessLevel,
      role: roleOf(accessLevel),
    };
  };

  const listHooks = async (path: string): Promise<GitLabHook[]> => {
    const response = await client.call({
      method: 'GET',
      path: `/projects/${projectId(path)}/hooks`,
      query: { per_page: 100 },
      what: 'list the project’s webhooks',
      project: path,
      forbiddenHint:
        'listing webhooks needs the Maintainer role; give the bot Maintainer on the project, or check ' +
        'the webhook by hand under Settings > Webhooks.',
    });
    return response.json(z.array(GitLabHookSchema)).map((hook) => ({
      id: hook.id,
      url: hook.url,
      issuesEvents: hook.issues_events === true,
      confidentialIssuesEvents: hook.confidential_issues_events === true,
      noteEvents: hook.note_events === true,
      confidentialNoteEvents: hook.confidential_note_events === true,
      enableSslVerification: hook.enable_ssl_verification === true,
    }));
  };

  return { currentUser, tokenScopes, projectAccess, listHooks };
};
