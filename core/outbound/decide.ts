import * as z from 'zod';
import type { DeskConfig, ProjectConfig } from '../config/schema.ts';
import type { TicketRecord } from '../state/tickets.ts';
import { normalizeAddress } from '../state/tickets.ts';
import { isPlainAddress } from './compose.ts';
import { NO_AUTO_MAIL_SENDER } from './constants.ts';
import type { NewNoteJob } from './jobs.ts';
import { isUnsubscribed, type OutboundTicketState } from './state.ts';

/**
 * Which forge events produce which mail (gitlab-service-desk.md §5.1, §5.4). Pure: the callers
 * read the ticket record and the outbound state, these functions decide.
 *
 * - Note Hook on an Issue, a new (not edited) public comment by a person other than the desk's
 *   bot: `new_note` to every participant who can still be mailed, except the note's author.
 *   Internal notes are never emailed (GitLab: "For private communication, use internal notes").
 *   A note on a confidential issue is emailed: tickets are confidential by default.
 * - Issue Hook: nothing. GitLab sends no status mail to external participants, and neither do we.
 */

// --- webhook payloads (GitLab `doc/user/project/integrations/webhook_events.md`) -----------------
// Loose objects: GitLab adds fields release after release; only what is read here is checked.

const HookUser = z.looseObject({
  id: z.number().optional(),
  name: z.string().optional(),
  username: z.string(),
  email: z.string().nullish(),
});

const HookProject = z.looseObject({
  id: z.number(),
  path_with_namespace: z.string().min(1),
  web_url: z.string().optional(),
});

export const NoteHookSchema = z.looseObject({
  object_kind: z.literal('note'),
  /** `confidential_note` for an internal note OR any note on a confidential issue. */
  event_type: z.string().optional(),
  user: HookUser,
  project: HookProject,
  object_attributes: z.looseObject({
    id: z.number().int().positive(),
    note: z.string(),
    noteable_type: z.string(),
    system: z.boolean().nullish(),
    /** GitLab 15.x and later (`Note#internal`). */
    internal: z.boolean().nullish(),
    /** The column's old name, still sent by old instances. */
    confidential: z.boolean().nullish(),
    /** `create` or `update` (GitLab 16.11 and later); absent before. */
    action: z.string().optional(),
    url: z.string().optional(),
  }),
  issue: z
    .looseObject({
      iid: z.number().int().positive(),
      title: z.string(),
      confidential: z.boolean().nullish(),
      description: z.string().nullish(),
      url: z.string().optional(),
    })
    .optional(),
});
export type NoteHook = z.output<typeof NoteHookSchema>;

export const IssueHookSchema = z.looseObject({
  object_kind: z.enum(['issue', 'work_item']),
  event_type: z.string().optional(),
  user: HookUser,
  project: HookProject,
  object_attributes: z.looseObject({
    iid: z.number().int().positive(),
    title: z.string(),
    action: z.string().optional(),
    confidential: z.boolean().nullish(),
  }),
});
export type IssueHook = z.output<typeof IssueHookSchema>;

// --- decisions --------------------------------------------------------------------------------

export const SkipReason = {
  notAnIssue: 'not_an_issue',
  editedNote: 'edited_note',
  systemNote: 'system_note',
  internalNote: 'internal_note',
  /** An old GitLab that says neither `internal` nor `confidential` on a note of a confidential issue. */
  internalUnknown: 'internal_unknown',
  botNote: 'bot_note',
  unknownProject: 'unknown_project',
  disabled: 'notifications_disabled',
  notATicket: 'not_a_ticket',
  noRecipients: 'no_recipients',
  issueEvent: 'issue_event',
  automated: 'automated_mail',
  noreplySender: 'noreply_sender',
  notNewIssue: 'not_a_new_issue',
} as const;
export type SkipReason = (typeof SkipReason)[keyof typeof SkipReason];

export type NoteDecision =
  | { send: false; reason: SkipReason; message: string }
  | { send: true; project: ProjectConfig; jobs: NewNoteJob[] };

/** The configured project for a forge path (GitLab paths are case-insensitive). */
export const projectByPath = (config: DeskConfig, path: string): ProjectConfig | undefined =>
  config.projects.find((project) => project.path.toLowerCase() === path.toLowerCase());

/** The configured project for a project key. */
export const projectByKey = (config: DeskConfig, key: string): ProjectConfig | undefined =>
  config.projects.find((project) => project.key === key);

/**
 * Whether a note is internal. `internal` (or the old `confidential`) answers it; without either,
 * `event_type: note` means public, and `confidential_note` means internal unless the issue itself
 * is confidential, where it cannot be told apart: then `undefined`, and the caller sends nothing.
 */
export const noteVisibility = (event: NoteHook): 'public' | 'internal' | 'unknown' => {
  const attributes = event.object_attributes;
  if (attributes.internal === true || attributes.confidential === true) return 'internal';
  if (attributes.internal === false || attributes.confidential === false) return 'public';
  if (event.event_type !== 'confidential_note') return 'public';
  return event.issue?.confidential === true ? 'unknown' : 'internal';
};

/** The recipients of a mail about a ticket: participants that can be mailed, minus `exclude`. */
export const mailableParticipants = (
  ticket: Pick<TicketRecord, 'participants'>,
  state: OutboundTicketState,
  exclude: readonly string[] = [],
): string[] => {
  const excluded = new Set(exclude.map(normalizeAddress));
  return ticket.participants
    .filter(
      (participant) =>
        !participant.undeliverable &&
        !isUnsubscribed(state, participant.address) &&
        !excluded.has(normalizeAddress(participant.address)) &&
        isPlainAddress(participant.address),
    )
    .map((participant) => normalizeAddress(participant.address));
};

const skip = (reason: SkipReason, message: string): NoteDecision => ({ send: false, reason, message });

/** The checks that need only the payload and the config (before any state is read). */
export const screenNoteHook = (
  event: NoteHook,
  config: DeskConfig,
): { ok: true; project: ProjectConfig; iid: number } | Extract<NoteDecision, { send: false }> => {
  const attributes = event.object_attributes;
  if (attributes.noteable_type !== 'Issue' || !event.issue) {
    return {
      send: false,
      reason: SkipReason.notAnIssue,
      message: `a comment on a ${attributes.noteable_type}`,
    };
  }
  if (attributes.action !== undefined && attributes.action !== 'create') {
    return {
      send: false,
      reason: SkipReason.editedNote,
      message: 'an edited comment is not sent again (as GitLab)',
    };
  }
  if (attributes.system === true) {
    return { send: false, reason: SkipReason.systemNote, message: 'a system note' };
  }
  const visibility = noteVisibility(event);
  if (visibility === 'internal') {
    return { send: false, reason: SkipReason.internalNote, message: 'an internal note is never emailed' };
  }
  if (visibility === 'unknown') {
    return {
      send: false,
      reason: SkipReason.internalUnknown,
      message:
        'this GitLab does not say whether a note on a confidential issue is internal; nothing is sent to be safe (GitLab 15.0 and later say it)',
    };
  }
  if (
    config.bot_username !== undefined &&
    event.user.username.toLowerCase() === config.bot_username.toLowerCase()
  ) {
    return { send: false, reason: SkipReason.botNote, message: "the desk's own bot wrote it" };
  }
  const project = projectByPath(config, event.project.path_with_namespace);
  if (!project) {
    return {
      send: false,
      reason: SkipReason.unknownProject,
      message: `${event.project.path_with_namespace} is not a project of this desk`,
    };
  }
  if (!project.notifications.new_note) {
    return {
      send: false,
      reason: SkipReason.disabled,
      message: `notifications.new_note is off for ${project.path}`,
    };
  }
  return { ok: true, project, iid: event.issue.iid };
};

/** The full decision for a Note Hook, given the ticket record (undefined: not a ticket) and its outbound state. */
export const decideNoteHook = (
  event: NoteHook,
  config: DeskConfig,
  ticket: TicketRecord | undefined,
  state: OutboundTicketState,
): NoteDecision => {
  const screened = screenNoteHook(event, config);
  if (!('ok' in screened)) return screened;
  const { project, iid } = screened;
  if (!ticket || ticket.participants.length === 0) {
    return skip(SkipReason.notATicket, `${project.path}#${iid} has no external participants`);
  }
  const author = event.user.email ?? undefined;
  const recipients = mailableParticipants(ticket, state, author ? [author] : []);
  if (recipients.length === 0) {
    return skip(SkipReason.noRecipients, 'every participant is the author, unsubscribed or undeliverable');
  }
  const issue = event.issue;
  const jobs = recipients.map(
    (to): NewNoteJob => ({
      v: 1,
      kind: 'new_note',
      project: project.path,
      iid,
      to,
      title: issue?.title ?? '',
      noteId: event.object_attributes.id,
      noteText: event.object_attributes.note,
      ...(event.user.name ? { authorName: event.user.name } : {}),
      ...(issue?.url ? { issueUrl: issue.url } : {}),
      ...(event.project.web_url ? { projectWebUrl: event.project.web_url } : {}),
      ...(issue?.description ? { description: issue.description } : {}),
    }),
  );
  return { send: true, project, jobs };
};

/** True for senders that never get an automatic mail (noreply, mailer-daemon, postmaster...). */
export const isNoAutoMailSender = (address: string): boolean => NO_AUTO_MAIL_SENDER.test(address.trim());
