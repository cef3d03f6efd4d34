import type { DeskConfig, ProjectConfig } from '../../config/schema.ts';
import { parseReplyToken } from '../../threading/reply-token.ts';
import type { RouteVia } from '../contracts.ts';
import { fullPathSlug } from './gitlab-slug.ts';

/** GitLab's default incoming local part (`incoming+%{key}@…`), accepted for its `-issue-` form. */
const GITLAB_INCOMING_MAILBOX = 'incoming';

/** `HANDLER_REGEX` of GitLab's Service Desk matcher: `<slug>-<id>-issue-`, trailing dash included. */
const GITLAB_INCOMING_KEY = /^(.+)-(\d{1,15})-issue-$/;

/** `PROJECT_KEY_PATTERN`: `<slug>-<key>`, the key after the last dash (keys have none). */
const GITLAB_PROJECT_KEY_ALIAS = /^(.+)-([a-z0-9_]+)$/;

export type AddressMatch =
  | { ok: true; project: ProjectConfig; via: RouteVia; replyToken?: string }
  | { ok: false; why: string };

const miss = (why: string): AddressMatch => ({ ok: false, why });

/** Exactly one project, or a miss: two projects behind one address is a collision, and fails closed. */
const single = (
  projects: ProjectConfig[],
  via: RouteVia,
  none: string,
  replyToken?: string,
): AddressMatch => {
  const [project, ...others] = projects;
  if (!project) return miss(none);
  if (others.length > 0) {
    return miss(
      `ambiguous: ${projects.map((candidate) => candidate.path).join(', ')} all match (fail closed)`,
    );
  }
  return replyToken === undefined ? { ok: true, project, via } : { ok: true, project, via, replyToken };
};

/**
 * Maps one recipient (lowercased, no brackets) to a project.
 *
 * Case: GitLab matches keys case-sensitively, but RFC 5321 leaves local-part case to the receiving
 * system and real ones (Gmail, Exchange, SES rules) ignore it; phones capitalise the first letter.
 * Keys are `[a-z0-9_]` by schema, slugs and reply tokens are lowercase by construction, so matching
 * the lowercased address loses nothing and never lets two projects differ only by case.
 *
 * Forms, in order: a configured alias (any domain); then, at the desk domain only,
 * `<mailbox>+r-<token>` (a reply token, routed by its project key, NOT verified here: thread
 * does that), `<mailbox>+<key>`, GitLab's `<mailbox|incoming>+<slug>-<id>-issue-` and GitLab's
 * project-key alias `<mailbox>+<slug>-<key>`. GitLab forms need the slug of the project's path to
 * match as well as the id or key, or nothing routes (`ReplyProcessing#valid_project_slug?`).
 */
export const matchAddress = (address: string, config: DeskConfig): AddressMatch => {
  const aliasOwners = config.projects.filter((project) =>
    project.aliases.some((alias) => alias.toLowerCase() === address),
  );
  if (aliasOwners.length > 0) return single(aliasOwners, 'alias', 'no project has this alias');

  const at = address.lastIndexOf('@');
  const domain = address.slice(at + 1);
  if (at <= 0 || domain !== config.domain.toLowerCase()) return miss('not a desk address');
  const local = address.slice(0, at);
  const plus = local.indexOf('+');
  if (plus === -1) return miss(`no project key after "${local}+"`);
  const mailbox = local.slice(0, plus);
  const key = local.slice(plus + 1);
  const deskMailbox = config.mailbox.toLowerCase();

  const incoming = GITLAB_INCOMING_KEY.exec(key);
  if (incoming && (mailbox === deskMailbox || mailbox === GITLAB_INCOMING_MAILBOX)) {
    const [, slug = '', id = ''] = incoming;
    const byId = config.projects.filter((project) => project.id === Number(id));
    if (byId.length === 0) return miss(`no project has id ${id}`);
    return single(
      byId.filter((project) => fullPathSlug(project.path) === slug),
      'gitlab_incoming',
      `slug "${slug}" is not the slug of ${byId.map((project) => project.path).join(', ')} (fail closed)`,
    );
  }
  if (mailbox !== deskMailbox) return miss(`mailbox "${mailbox}" is not "${deskMailbox}"`);

  const token = key.startsWith('r-') ? parseReplyToken(key) : undefined;
  if (token) {
    return single(
      config.projects.filter((project) => project.key === token.projectKey),
      'reply_token',
      `reply token names unknown project key "${token.projectKey}"`,
      token.token,
    );
  }

  const byKey = config.projects.filter((project) => project.key === key);
  if (byKey.length > 0) return single(byKey, 'project_key', `no project has key "${key}"`);

  const alias = GITLAB_PROJECT_KEY_ALIAS.exec(key);
  if (alias) {
    const [, slug = '', projectKey = ''] = alias;
    const keyed = config.projects.filter((project) => project.key === projectKey);
    if (keyed.length > 0) {
      return single(
        keyed.filter((project) => fullPathSlug(project.path) === slug),
        'project_key',
        `slug "${slug}" is not the slug of ${keyed.map((project) => project.path).join(', ')} (fail closed)`,
      );
    }
  }
  return miss(`no project has key "${key}"`);
};
