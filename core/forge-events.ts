/**
 * A forge webhook delivery reduced to what the desk acts on, the same for GitHub and Forgejo/Gitea.
 * `internal` is always false: neither forge has internal comments.
 */
export const ForgeEventKind = ['comment_created', 'issue_closed', 'issue_reopened'] as const;
export type ForgeEventKind = (typeof ForgeEventKind)[number];

export interface ForgeEvent {
  kind: ForgeEventKind;
  /** `owner/repo`. */
  projectPath: string;
  issueNumber: number;
  /** The comment's body for `comment_created`; empty otherwise. */
  commentBody: string;
  /** The login of whoever acted. */
  author: string;
  /** The actor is a bot account (GitHub `type: Bot`, Forgejo/Gitea bot users). */
  isBot: boolean;
  internal: false;
  /** The forge's delivery id (`X-GitHub-Delivery`, `X-Forgejo-Delivery`), for de-duplication. */
  deliveryId: string;
}

/** Why a delivery was not turned into an event: a value, not an error. */
export const ForgeEventSkip = [
  'event_not_handled',
  'action_not_handled',
  'pull_request',
  'payload_invalid',
] as const;
export type ForgeEventSkip = (typeof ForgeEventSkip)[number];

export type ForgeEventResult = { ok: true; event: ForgeEvent } | { ok: false; reason: ForgeEventSkip };
