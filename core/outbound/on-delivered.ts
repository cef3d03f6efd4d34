import type { DeskConfig, ProjectConfig } from '../config/schema.ts';
import { errorMessage, isTransient } from '../errors.ts';
import type { DeliveredEvent } from '../pipeline.ts';
import type { Clock, Logger } from '../ports.ts';
import { senderIdentity } from '../stages/authenticate/sender-identity.ts';
import type { DeskState } from '../state/index.ts';
import type { Participant } from '../state/tickets.ts';
import { normalizeAddress } from '../state/tickets.ts';
import { createAutomaticMailCaps } from './caps.ts';
import { isNoAutoMailSender, mailableParticipants, SkipReason } from './decide.ts';
import type { NotifyJob, NotifyQueue } from './jobs.ts';

/**
 * The pipeline's `onDelivered` hook (core/pipeline.ts): after an issue or a note was made from
 * inbound mail, queue the automatic mails GitLab sends at that moment.
 *
 * - thank_you, to the requester of a NEW issue only (GitLab: not for replies), never for automated
 *   mail (auto-replies, bulk, bounces), never to a noreply/mailer-daemon-like sender, never when the
 *   project's `notifications.thank_you` is off, and at most `rate_limits.thank_you_per_sender` per
 *   address in 3 hours whatever the subject, FreeScout's defence against a mail loop with an
 *   autoresponder that slips past classification (core/outbound/caps.ts).
 * - new_participant, to participants added from Cc (GitLab: they get it instead of the thank-you),
 *   on a new issue and on a reply that brought new Cc participants.
 * - both within the desk-wide `rate_limits.automatic_per_hour` (core/outbound/caps.ts).
 *
 * Who is greeted comes from the delivery (`Delivery.participantsAdded`: whom this mail added to the
 * ticket, the same on a retry), never from the ticket's current participants.
 *
 * Every participant is "greeted" once (recorded in the outbound state whether or not a mail went),
 * so a retry of the same delivery, or a later reply, never greets anyone again.
 */

export interface OnDeliveredDeps {
  config: DeskConfig;
  /** The desk's state: the thank-you limits and the outbound state. */
  state: Pick<DeskState, 'limiter' | 'outbound'>;
  queue: NotifyQueue;
  /** The desk's clock, the one `state` runs on. */
  clock: Clock;
  logger: Logger;
}

export interface OnDeliveredResult {
  queued: NotifyJob[];
  skipped: { to: string; kind: 'thank_you' | 'new_participant'; reason: string }[];
}

export const createOnDelivered = (deps: OnDeliveredDeps): ((event: DeliveredEvent) => Promise<void>) => {
  const run = planAutomaticMail(deps);
  return async function onDelivered(event) {
    let result: OnDeliveredResult;
    try {
      result = await run(event);
    } catch (error) {
      // A transient fault retries the mail (its delivery is idempotent, and so is this hook). Any
      // other fault must not quarantine a mail whose issue exists: the mail is logged and dropped.
      if (isTransient(error)) throw error;
      deps.logger.error('automatic mail failed; the issue was created but no thank-you was sent', {
        project: event.target.project.path,
        error: errorMessage(error),
      });
      return;
    }
    if (result.queued.length > 0 || result.skipped.length > 0) {
      deps.logger.info('automatic mail', {
        queued: result.queued.map((job) => ({ kind: job.kind, project: job.project, iid: job.iid })),
        skipped: result.skipped.map(({ kind, reason }) => ({ kind, reason })),
      });
    }
  };
};

/** The hook's logic, returning what it queued and skipped (for tests and logs). */
export const planAutomaticMail = (deps: OnDeliveredDeps) => {
  const { limiter, outbound: outboundState } = deps.state;
  const caps = createAutomaticMailCaps(deps.config, limiter);

  return async function planAutomaticMailFor(event: DeliveredEvent): Promise<OnDeliveredResult> {
    const result: OnDeliveredResult = { queued: [], skipped: [] };
    // Automated mail never triggers an acknowledgement or a notification (DESIGN, classify).
    if (event.classification.kind !== 'human') return result;
    const project = event.target.project;
    const { record, participantsAdded: added } = event.delivery;
    const iid = record.outcome === 'issue' ? record.issue?.iid : record.note?.issueIid;
    if (iid === undefined || (record.outcome !== 'issue' && record.outcome !== 'note')) return result;
    // An internal note (a stranger under `internal_note`) is nothing to greet anyone for.
    if (record.outcome === 'note' && record.note?.internal) return result;

    // Only whom this mail added (the delivery says, from the ticket record it wrote): on a new issue
    // the requester and its Cc, on a reply the Cc it brought.
    const senderAddress = mailSender(event);
    const requester =
      record.outcome === 'issue'
        ? (added.find((p) => p.source === 'from' && p.address === senderAddress) ??
          added.find((p) => p.source === 'from'))
        : undefined;
    const candidates =
      record.outcome === 'issue'
        ? added
        : added.filter((p) => p.source !== 'from' && p.address !== senderAddress);
    if (candidates.length === 0) return result;

    const state = await outboundState.get(project.path, iid);
    const greeted = new Set(state.greeted);
    const fresh = new Set(candidates.map((p) => p.address).filter((address) => !greeted.has(address)));
    const mailable = new Set(mailableParticipants({ participants: added }, state));
    const title = record.issue?.title ?? '';
    const base = {
      v: 1 as const,
      project: project.path,
      iid,
      title,
      ...(record.issue?.url ? { issueUrl: record.issue.url } : {}),
      ...(record.outcome === 'issue' && record.issue?.description
        ? { description: record.issue.description }
        : {}),
    };

    for (const participant of candidates) {
      if (!fresh.has(participant.address)) continue;
      // Whoever wrote a mail (a `from` participant) is thanked as the requester or not at all, never
      // told it was "added".
      if (participant !== requester && participant.source === 'from') continue;
      const kind = participant === requester ? 'thank_you' : 'new_participant';
      const reason = await refuse(kind, participant, { project, mailable, event });
      if (reason) {
        result.skipped.push({ to: participant.address, kind, reason });
        continue;
      }
      result.queued.push({ ...base, kind, to: participant.address });
    }
    // Queue first, then remember who was greeted: a crash in between queues twice, and the notifier
    // sends an automatic mail at most once (it records its intent before the send,
    // core/outbound/intent.ts); the other order could lose the thank-you to a failed enqueue.
    if (result.queued.length > 0) await deps.queue.enqueue(result.queued);
    if (fresh.size > 0) await outboundState.greet(project.path, iid, [...fresh]);
    return result;
  };

  async function refuse(
    kind: 'thank_you' | 'new_participant',
    participant: Participant,
    context: { project: ProjectConfig; mailable: ReadonlySet<string>; event: DeliveredEvent },
  ): Promise<string | undefined> {
    const { project } = context;
    if (!project.notifications[kind]) return SkipReason.disabled;
    if (isNoAutoMailSender(participant.address)) return SkipReason.noreplySender;
    if (!context.mailable.has(participant.address)) return SkipReason.noRecipients;
    // Also keyed on the mail's From when the thank-you goes to its Reply-To (core/outbound/caps.ts).
    const author = context.event.parsed.from[0]?.address;
    return caps.admit({ kind, to: participant.address, author });
  }
};

/**
 * The address a mail counts as coming from: its sender identity (the one From mailbox), lowercased.
 * Never Reply-To or Sender (GitLab's `from_address` takes Reply-To first): a thank-you to a Reply-To
 * would mail the desk's answer to whoever the sender named (see core/stages/thread/sender.ts).
 */
const mailSender = (event: DeliveredEvent): string | undefined => {
  const identity = senderIdentity(event.parsed.headers.get('from') ?? []);
  return identity.ok ? normalizeAddress(identity.mailbox.address) : undefined;
};
