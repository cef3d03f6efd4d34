import type { ParsedMail } from '../../model.ts';
import type { TicketStore } from '../../state/tickets.ts';
import { normalizeAddress } from '../../state/tickets.ts';
import type { StageResult } from '../../trace.ts';
import { pass, stop } from '../../trace.ts';
import type { ClassifyReason } from '../classify/index.ts';
import type { Classification, MailClass, RouteTarget, Stage, ThreadDecision } from '../contracts.ts';
import { findByMessageIds, type MessageIdReason } from './message-ids.ts';
import {
  type FoundTicket,
  findByReplyToken,
  type ReplyTokenReason,
  requireTokenParticipant,
} from './reply-token.ts';
import { authorSender } from './sender.ts';

export interface ThreadInput {
  mail: ParsedMail;
  target: RouteTarget;
  classification: Classification;
  tickets: TicketStore;
  /** The desk secret's `reply_key`; undefined when the secret has none. */
  replyKey: string | undefined;
  /** True for addresses the desk receives at (never a participant, never the sender). */
  deskAddress: (address: string) => boolean;
}

/**
 * Every reason code of the thread stage. This file's: `new_ticket` (no reply token, no known
 * message id), `automated_on_ticket` (an auto-reply, out-of-office or bulk mail on a ticket: an
 * internal note, no reopen), `reply_from_stranger` (the sender is not a participant; the project's
 * `strangers` policy decided). A reply's code names the rule that found its ticket.
 */
export type ThreadReason =
  | 'new_ticket'
  | 'automated_on_ticket'
  | 'reply_from_stranger'
  | ReplyTokenReason
  | MessageIdReason;

/** Mail no person wrote: it never opens a ticket, never reopens one, and lands on a ticket only as an internal note. */
const AUTOMATED: ReadonlySet<MailClass> = new Set<MailClass>([
  'auto_reply',
  'out_of_office',
  'bulk',
  'bounce',
  'own_mail',
]);

/**
 * The thread stage (DESIGN stage 5): is this mail a reply, and to which issue?
 *
 * 1. Mail to a reply address (`target.via === 'reply_token'`): the token alone decides; a bad token
 *    is quarantined, never retried as a new ticket.
 * 2. Otherwise In-Reply-To, then References, against the message-id index, this project only.
 * 3. Otherwise a new ticket, except for automated mail, which is dropped.
 *
 * A reply is attributed to its sender identity (the From mailbox, never Reply-To or Sender) only if
 * that address is a participant of the ticket, and, for a reply token, the participant the token
 * was issued to; anyone else is a stranger, handled by the project's `strangers` policy, never as
 * a silent comment (reference helpdesk-peers.md §11.4).
 */
export const threadMail = async (
  input: ThreadInput,
): Promise<StageResult<ThreadDecision, ThreadReason | ClassifyReason>> => {
  const { mail, target, classification, tickets } = input;
  const automated = AUTOMATED.has(classification.kind);

  if (classification.kind === 'own_mail') {
    // A loop guard: the pipeline drops our own mail before routing, but a thread must never grow from it.
    return stop('dropped', classification.reason, 'our own mail came back; dropped to prevent a loop');
  }

  let found: FoundTicket | undefined;
  let ignoredForeign = 0;
  if (target.via === 'reply_token') {
    const byToken = await findByReplyToken(target, tickets, input.replyKey);
    if (!byToken.ok) return byToken;
    found = byToken.value;
  } else {
    const search = await findByMessageIds(mail, target, tickets);
    found = search.found;
    ignoredForeign = search.ignoredForeign;
  }
  const foreign = ignoredForeign > 0 ? { ignoredOtherProjectHits: ignoredForeign } : undefined;

  if (!found) {
    const bulkAccepted = classification.kind === 'bulk' && target.project.accept_bulk;
    if (automated && !bulkAccepted) {
      return stop(
        'dropped',
        classification.reason,
        `an automated mail (${classification.kind}) that replies to no ticket of ${target.project.path}; automated mail never opens an issue`,
        foreign,
      );
    }
    return pass<ThreadDecision, ThreadReason>({ kind: 'new_ticket' }, 'new_ticket', 'new_ticket', foreign);
  }

  // Authorised by From, never Reply-To (see authorSender).
  const sender = authorSender(mail, input.deskAddress);
  const address = sender ? normalizeAddress(sender.address) : undefined;
  const isParticipant =
    address !== undefined &&
    (found.record?.participants.some((participant) => participant.address === address) ?? false);
  const detail = { issueIid: found.issueIid, via: found.via };

  if (isParticipant && address !== undefined) {
    const mismatch = requireTokenParticipant(found, address, target.project.path);
    if (mismatch) return mismatch;
    if (automated) {
      return pass<ThreadDecision, ThreadReason>(
        {
          kind: 'reply',
          issueIid: found.issueIid,
          via: found.via,
          participant: address,
          internal: true,
          reopen: false,
        },
        'internal_note',
        'automated_on_ticket',
        { ...detail, kind: classification.kind, rule: classification.reason },
      );
    }
    return pass<ThreadDecision, ThreadReason>(
      {
        kind: 'reply',
        issueIid: found.issueIid,
        via: found.via,
        participant: address,
        internal: false,
        reopen: target.project.reopen_on_reply,
      },
      'reply',
      found.via,
      detail,
    );
  }

  const why = `the sender is not a participant of ${target.project.path}#${found.issueIid}`;
  switch (target.project.strangers) {
    case 'drop':
      return stop('dropped', 'reply_from_stranger', `${why}; the project's strangers policy is drop`, detail);
    case 'internal_note':
      // Posted for the team to see, but the stranger is not made a participant and reopens nothing.
      return pass<ThreadDecision, ThreadReason>(
        {
          kind: 'reply',
          issueIid: found.issueIid,
          via: found.via,
          participant: address ?? '',
          internal: true,
          reopen: false,
        },
        'internal_note',
        'reply_from_stranger',
        detail,
      );
    default:
      return stop(
        'quarantined',
        'reply_from_stranger',
        `${why}; the project's strangers policy is quarantine: release the mail to post it, or add the sender as a participant first`,
        detail,
      );
  }
};

/** The thread stage: the ticket store and the desk's addresses come from the mail's context. */
export const threadStage: Stage<
  Omit<ThreadInput, 'tickets' | 'deskAddress'>,
  ThreadDecision,
  ThreadReason | ClassifyReason,
  'tickets' | 'isDeskAddress'
> = (input, context) =>
  threadMail({ ...input, tickets: context.tickets, deskAddress: context.isDeskAddress });
