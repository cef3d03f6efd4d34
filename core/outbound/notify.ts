import type { DeskConfig, ProjectConfig } from '../config/schema.ts';
import type { Clock, Forge, Logger, Mailer, SecretSource } from '../ports.ts';
import type { DeskState } from '../state/index.ts';
import { normalizeAddress, type TicketRecord } from '../state/tickets.ts';
import { createReplyToken, replyAddress } from '../threading/reply-token.ts';
import { embedUploads, type FetchedUpload, type FetchUpload } from './attachments.ts';
import { composeMail, fromNameFor, isPlainAddress, newMessageId, subjectFor } from './compose.ts';
import { OUTBOUND_WINDOW_SECONDS, SUPPRESSION_NOTICE_WINDOW_SECONDS } from './constants.ts';
import { projectByPath } from './decide.ts';
import { sendBegun, sendUnderIntent } from './intent.ts';
import { jobKey, type NotifyJob } from './jobs.ts';
import { isUnsubscribed, wasSent } from './state.ts';
import { loadTemplate, type PlaceholderValues, renderTemplate } from './templates.ts';
import { createUnsubscribeToken, unsubscribeUrl } from './unsubscribe.ts';

/**
 * Sends one notification job: re-checks that the recipient can still be mailed (a bounce or an
 * unsubscribe may have come in since the job was queued), checks the desk's daily outbound limit,
 * renders the template, composes the MIME, sends it, and records the id the transport returned on
 * the ticket and in the message-id index, so the customer's reply threads back to the issue.
 *
 * Outcomes are values; only infrastructure faults throw (TransientError: the queue retries).
 */

/** A Mailer that can say under which ids its sent mail will be referred to in replies. */
export interface OutboundMailer extends Mailer {
  /**
   * Every form in which a sent mail's id may come back in In-Reply-To/References, the likeliest
   * first (SES: `<id>@<region>.amazonses.com`, `<id>@email.amazonses.com`, the bare id).
   * @default the id itself
   */
  messageIdForms?(messageId: string): string[];
}

/** Text the operator puts in every mail (`%{SYSTEM_HEADER}`, `%{SYSTEM_FOOTER}`, `%{ADDITIONAL_TEXT}`). */
export interface DeskAppearance {
  systemHeader?: string | undefined;
  systemFooter?: string | undefined;
  additionalText?: string | undefined;
}

export interface NotifyDeps {
  config: DeskConfig;
  /** The desk's state: tickets and the message-id index, the outbound limit, the outbound state. */
  state: Pick<DeskState, 'tickets' | 'limiter' | 'outbound'>;
  forge: Pick<Forge, 'readRepoFile' | 'addNote' | 'getIssue'>;
  mailer: OutboundMailer;
  secrets: SecretSource;
  clock: Clock;
  logger: Logger;
  /** Fetches note uploads to attach them. @default none: uploads stay links */
  fetchUpload?: FetchUpload | undefined;
  appearance?: DeskAppearance | undefined;
}

export type NotifyOutcome =
  | { status: 'sent'; messageId: string; attachments: number }
  | {
      status: 'skipped';
      reason:
        | 'unknown_project'
        | 'not_a_ticket'
        | 'not_a_participant'
        | 'undeliverable'
        | 'unsubscribed'
        | 'already_sent'
        /** An automatic mail whose send began and never finished (a crash): never risked twice. */
        | 'send_interrupted'
        | 'invalid_address'
        | 'notifications_disabled';
    }
  | { status: 'suppressed'; reason: 'outbound_limit'; noticePosted: boolean };

/** The internal note GitLab posts when its outbound limit stops a mail (gitlab-service-desk.md §2.8). */
export const suppressionNotice = (limit: number): string =>
  `Postdesk has not sent emails for recent activity on this ticket because the desk exceeded its outbound email limit (${limit} per day). ` +
  'The customer has not been notified of recent comments. The limit resets over the next 24 hours; ' +
  'raise `rate_limits.outbound_per_day` in the desk config if it is too low.';

const emptyValues = (): PlaceholderValues => ({
  ISSUE_ID: '',
  ISSUE_PATH: '',
  ISSUE_URL: '',
  NOTE_TEXT: '',
  ISSUE_DESCRIPTION: '',
  UNSUBSCRIBE_URL: '',
  SYSTEM_HEADER: '',
  SYSTEM_FOOTER: '',
  ADDITIONAL_TEXT: '',
});

export const createNotifier = (deps: NotifyDeps) => {
  const { clock } = deps;
  const { tickets, limiter, outbound: outboundState } = deps.state;
  const { config } = deps;
  const deskAddress = `${config.mailbox}@${config.domain}`;

  /** Over the daily limit: post the throttled internal note instead (GitLab). */
  const suppress = async (project: ProjectConfig, iid: number, limit: number): Promise<NotifyOutcome> => {
    const notice = await limiter.hit('suppression_notice', `${project.path.toLowerCase()}#${iid}`, {
      [String(SUPPRESSION_NOTICE_WINDOW_SECONDS)]: 1,
    });
    if (notice.allowed) {
      await deps.forge.addNote({ path: project.path }, iid, {
        body: suppressionNotice(limit),
        internal: true,
      });
    }
    deps.logger.warn('outbound limit reached; mail not sent', {
      project: project.path,
      iid,
      limit,
      noticePosted: notice.allowed,
    });
    return { status: 'suppressed', reason: 'outbound_limit', noticePosted: notice.allowed };
  };

  const interrupted = (projectPath: string, job: NotifyJob): NotifyOutcome => {
    deps.logger.warn('automatic mail not sent: an earlier attempt began sending it and did not finish', {
      kind: job.kind,
      project: projectPath,
      iid: job.iid,
    });
    return { status: 'skipped', reason: 'send_interrupted' };
  };

  const replyToFor = (
    project: ProjectConfig,
    ticket: TicketRecord,
    index: number,
    address: string,
    replyKey: string | undefined,
  ): string => {
    if (replyKey) {
      const token = createReplyToken(replyKey, {
        projectKey: project.key,
        issueIid: ticket.iid,
        participantIndex: index,
        projectPath: project.path,
        participant: address,
      });
      return replyAddress(config.mailbox, config.domain, token);
    }
    // Without a reply key replies still thread by In-Reply-To; the project address is the fallback.
    deps.logger.warn('the desk secret has no reply_key: replies thread by message id only; add one', {
      project: project.path,
    });
    return `${config.mailbox}+${project.key}@${config.domain}`;
  };

  return async function sendNotification(job: NotifyJob): Promise<NotifyOutcome> {
    const project = projectByPath(config, job.project);
    if (!project) return { status: 'skipped', reason: 'unknown_project' };
    if (!project.notifications[job.kind]) return { status: 'skipped', reason: 'notifications_disabled' };
    const ticket = await tickets.get(project.path, job.iid);
    if (!ticket) return { status: 'skipped', reason: 'not_a_ticket' };
    const address = normalizeAddress(job.to);
    const index = ticket.participants.findIndex((participant) => participant.address === address);
    const participant = ticket.participants[index];
    if (!participant) return { status: 'skipped', reason: 'not_a_participant' };
    if (participant.undeliverable) return { status: 'skipped', reason: 'undeliverable' };
    if (!isPlainAddress(address)) return { status: 'skipped', reason: 'invalid_address' };
    const state = await outboundState.get(project.path, job.iid);
    if (isUnsubscribed(state, address)) return { status: 'skipped', reason: 'unsubscribed' };
    const sentKey = jobKey(job);
    if (wasSent(state, sentKey)) return { status: 'skipped', reason: 'already_sent' };
    if (sendBegun(state, sentKey)) return interrupted(project.path, job);

    const limit = config.rate_limits.outbound_per_day;
    if (limit > 0) {
      const verdict = await limiter.hit('outbound', 'desk', { [String(OUTBOUND_WINDOW_SECONDS)]: limit });
      if (!verdict.allowed) return suppress(project, job.iid, limit);
    }

    let title = job.title;
    let issueUrl = job.issueUrl;
    if (title === '' || issueUrl === undefined) {
      const issue = await deps.forge.getIssue({ path: project.path }, job.iid);
      title = title === '' ? (issue?.title ?? '') : title;
      issueUrl = issueUrl ?? issue?.webUrl;
    }

    const secret = await deps.secrets.get();
    const replyKey = secret.reply_key;
    const unsubscribe =
      config.public_url && replyKey
        ? unsubscribeUrl(
            config.public_url,
            createUnsubscribeToken(replyKey, {
              projectKey: project.key,
              issueIid: job.iid,
              participantIndex: index,
              projectPath: project.path,
              participant: address,
            }),
          )
        : undefined;

    let noteText = job.kind === 'new_note' ? job.noteText : '';
    let attachments: FetchedUpload[] = [];
    if (job.kind === 'new_note' && deps.fetchUpload) {
      const embedded = await embedUploads(noteText, {
        fetchUpload: deps.fetchUpload,
        projectWebUrl: job.projectWebUrl,
      });
      noteText = embedded.markdown;
      attachments = embedded.attachments;
    }

    const template = await loadTemplate(deps.forge, project.path, job.kind, deps.logger);
    const values: PlaceholderValues = {
      ...emptyValues(),
      ISSUE_ID: `#${job.iid}`,
      ISSUE_PATH: `${project.path}#${job.iid}`,
      ISSUE_URL: issueUrl ?? '',
      NOTE_TEXT: noteText,
      ISSUE_DESCRIPTION: job.description ?? '',
      UNSUBSCRIBE_URL: unsubscribe ?? '',
      SYSTEM_HEADER: deps.appearance?.systemHeader ?? '',
      SYSTEM_FOOTER: deps.appearance?.systemFooter ?? '',
      ADDITIONAL_TEXT: deps.appearance?.additionalText ?? '',
    };
    const projectWebUrl = job.kind === 'new_note' ? job.projectWebUrl : undefined;
    const body = renderTemplate(template.markdown, values, { baseUrl: projectWebUrl });

    const inbound = ticket.inboundMessageIds[0];
    const composed = await composeMail({
      kind: job.kind,
      from: {
        name: fromNameFor(
          job.kind,
          project.outgoing_name,
          job.kind === 'new_note' ? job.authorName : undefined,
        ),
        address: deskAddress,
      },
      to: { name: participant.name, address },
      replyTo: replyToFor(project, ticket, index, address, replyKey),
      subject: subjectFor(job.kind, title, job.iid),
      messageId: newMessageId(job.kind, config.domain),
      inReplyTo: inbound,
      references: [...ticket.inboundMessageIds.slice(0, 1), ...ticket.outboundMessageIds],
      loopDomain: config.domain,
      unsubscribeUrl: unsubscribe,
      html: body.html,
      text: body.text,
      attachments,
      date: clock.now(),
    });

    // Automatic mail: the intent is recorded first, a team's answer is marked sent only after the
    // transport took it (core/outbound/intent.ts).
    const attempt = await sendUnderIntent(
      outboundState,
      { kind: job.kind, projectPath: project.path, iid: job.iid, key: sentKey },
      () => deps.mailer.sendRaw({ from: deskAddress, to: [address], raw: composed.raw }),
    );
    if (attempt.status === 'interrupted') return interrupted(project.path, job);
    const sent = attempt.value;
    const forms = deps.mailer.messageIdForms?.(sent.messageId) ?? [sent.messageId];
    const [primary = sent.messageId, ...others] = forms;
    // Recorded in this order so that a failure part-way leaves the mail findable by its most likely
    // id; the sent marker comes last, so a retry after a crash re-sends a team's answer rather than
    // loses it (an automatic mail's intent, recorded before the send, keeps it from going twice).
    const ref = { projectPath: project.path, iid: job.iid };
    await tickets.recordOutbound(project.path, job.iid, primary);
    for (const id of [...others, composed.messageId]) await tickets.indexMessageId(id, ref, 'outbound');
    await outboundState.recordSent(project.path, job.iid, sentKey, primary);
    deps.logger.info('mail sent', {
      kind: job.kind,
      project: project.path,
      iid: job.iid,
      messageId: primary,
      template: template.source,
      attachments: attachments.length,
    });
    return { status: 'sent', messageId: primary, attachments: attachments.length };
  };
};

export type SendNotification = ReturnType<typeof createNotifier>;
