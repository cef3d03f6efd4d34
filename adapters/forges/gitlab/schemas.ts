import * as z from 'zod';

/**
 * The GitLab REST v4 answers Postdesk reads, checked where they enter (`ApiResponse.json`). Only
 * the fields Postdesk reads are checked, and objects are loose: GitLab adds fields in every release,
 * and an extra field is never a reason to quarantine a mail. Shapes from GitLab's API docs
 * (`doc/api/*.md`); the fake in test/support/fake-gitlab.ts answers with their examples.
 */

const id = z.number().int();

/** `doc/api/issues.md`, the issue entity (create, get, edit, list). */
export const GitLabIssueSchema = z.looseObject({
  id,
  iid: id,
  title: z.string(),
  /** Read by the marker search only; null for an issue created without one. */
  description: z.string().nullish(),
  state: z.string(),
  web_url: z.string(),
  confidential: z.boolean(),
  /** Names, as long as the request does not ask for `with_labels_details`. */
  labels: z.array(z.string()),
  assignees: z.array(z.looseObject({ username: z.string() })).nullish(),
});
export type GitLabIssueEntity = z.infer<typeof GitLabIssueSchema>;

/** `doc/api/notes.md`, the note entity. */
export const GitLabNoteSchema = z.looseObject({
  id,
  body: z.string(),
  /** Since GitLab 15.5; `confidential` is the older name of the same flag. */
  internal: z.boolean().optional(),
  confidential: z.boolean().nullish(),
  system: z.boolean().optional(),
});
export type GitLabNoteEntity = z.infer<typeof GitLabNoteSchema>;

/** `doc/api/project_markdown_uploads.md`, "Upload a file". */
export const GitLabUploadSchema = z.looseObject({
  alt: z.string(),
  url: z.string(),
  /** `/-/project/<id>/uploads/<secret>/<name>`, since GitLab 17.1. */
  full_path: z.string().optional(),
  markdown: z.string(),
});
export type GitLabUploadEntity = z.infer<typeof GitLabUploadSchema>;

/** `doc/api/users.md`, `GET /user`. */
export const GitLabUserSchema = z.looseObject({
  id,
  username: z.string(),
  name: z.string(),
  state: z.string(),
  bot: z.boolean().optional(),
});
export type GitLabUserEntity = z.infer<typeof GitLabUserSchema>;

/** `doc/api/personal_access_tokens.md`, `GET /personal_access_tokens/self`. */
export const GitLabTokenSchema = z.looseObject({
  name: z.string(),
  revoked: z.boolean(),
  active: z.boolean(),
  scopes: z.array(z.string()),
  /** `YYYY-MM-DD`, null for a token that does not expire. */
  expires_at: z.string().nullish(),
});
export type GitLabTokenEntity = z.infer<typeof GitLabTokenSchema>;

/** `doc/api/members.md`, a member (`GET /projects/:id/members/all/:user_id`). */
export const GitLabMemberSchema = z.looseObject({ access_level: z.number().int() });
export type GitLabMemberEntity = z.infer<typeof GitLabMemberSchema>;

/** `doc/api/projects.md`, the few fields of a project Postdesk reads. */
export const GitLabProjectSchema = z.looseObject({
  id,
  path_with_namespace: z.string(),
  web_url: z.string(),
});
export type GitLabProjectEntity = z.infer<typeof GitLabProjectSchema>;

/** `doc/api/project_webhooks.md`, a project hook. The event flags are read as "true or not". */
export const GitLabHookSchema = z.looseObject({
  id,
  url: z.string(),
  issues_events: z.boolean().optional(),
  confidential_issues_events: z.boolean().optional(),
  note_events: z.boolean().optional(),
  confidential_note_events: z.boolean().optional(),
  enable_ssl_verification: z.boolean().optional(),
});
export type GitLabHookEntity = z.infer<typeof GitLabHookSchema>;

/** One problem per line of a failed check, for a person: `[0].iid: missing (expected number)`. */
export const describeIssues = (issues: readonly z.core.$ZodIssue[], shown = 5): string => {
  const lines = issues.slice(0, shown).map((issue) => {
    const path = fieldPath(issue.path);
    const what = issue.message.replace(/^Invalid input: /, '');
    const missing = /^expected (.+), received undefined$/.exec(what);
    return `${path}: ${missing ? `missing (expected ${missing[1]})` : what}`;
  });
  const more = issues.length - shown;
  return lines.join('; ') + (more > 0 ? `; and ${more} more` : '');
};

/** `labels[1]`, `[0].iid`, or `the answer` for the top level. */
const fieldPath = (path: readonly PropertyKey[]): string => {
  if (path.length === 0) return 'the answer';
  return path
    .map((key, index) => (typeof key === 'number' ? `[${key}]` : `${index === 0 ? '' : '.'}${String(key)}`))
    .join('');
};
