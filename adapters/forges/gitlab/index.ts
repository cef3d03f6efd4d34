/** GitLab REST v4: the forge port, and the read-only helpers of `postdesk doctor`. */
export {
  createGitLabAdmin,
  type GitLabAdmin,
  type GitLabBotUser,
  type GitLabHook,
  type GitLabProjectAccess,
  type GitLabTokenInfo,
  roleOf,
} from './admin.ts';
export { GITLAB_ACCESS_LEVELS, GITLAB_DEFAULTS, type GitLabRole } from './constants.ts';
export { createGitLabForge, type GitLabForge } from './forge.ts';
export { contentDispositionFilename } from './multipart.ts';
export { parseRetryAfter } from './retry.ts';
export type { GitLabForgeOptions, GitLabRetryOptions } from './types.ts';
