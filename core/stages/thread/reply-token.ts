import type { TicketRecord, TicketStore } from '../../state/tickets.ts';
import { parseReplyToken, verifyReplyToken } from '../../threading/reply-token.ts';
import type { StageResult } from '../../trace.ts';
import { pass, stop } from '../../trace.ts';
import type { RouteTarget, ThreadDecision } from '../contracts.ts';

/** A ticket the mail replies to, found by token or by message id. */
export interface FoundTicket {
  issueIid: number;
  /** The rule that found it, and the reason code of a reply: this file's or message-ids.ts's. */
  via: Extract<ThreadDecision, { kind: 'reply' }>['via'];
  record: TicketRecord | undefined;
  /** For a ticket found by reply token: the participant the token was issued to (normalised address). */
  tokenParticipant?: string | undefined;
}

/**
 * Reason codes of rule 1: `reply_token` (found), `reply_token_invalid` (malformed, another
 * project's, or a MAC that matches no participant of that issue), `reply_key_missing` (a token came,
 * but the desk secret has no `reply_key` to check it with), `reply_token_participant_mismatch`
 * (another participant of the ticket wrote with this participant's token). The last three
 * quarantine the mail.
 */
export type ReplyTokenReason =
  | 'reply_token'
  | 'reply_token_invalid'
  | 'reply_key_missing'
  | 'reply_token_participant_mismatch';

/**
 * Rule 1 (reference helpdesk-peers.md §11.3): the signed token in the recipient address. The token's
 * fields are read without trust; the ticket record gives the participant at the token's position,
 * and the MAC must match that participant, this project and this issue. A token copied onto
 * another issue, another project or another position fails the same way as a forged one.
 */
export const findByReplyToken = async (
  target: RouteTarget,
  tickets: TicketStore,
  replyKey: string | undefined,
): Promise<StageResult<FoundTicket, ReplyTokenReason>> => {
  const project = target.project;
  if (replyKey === undefined || replyKey === '') {
    return stop(
      'quarantined',
      'reply_key_missing',
      'this mail came to a reply address, but the desk secret has no reply_key to check its signature: ' +
        'add reply_key (a random string of 32 characters or more) to the secret with `postdesk secret write`, ' +
        'then release the mail from quarantine',
    );
  }
  const invalid = (why: string, detail?: Record<string, unknown>): StageResult<never, ReplyTokenReason> =>
    stop(
      'quarantined',
      'reply_token_invalid',
      `the reply address does not carry a valid reply token for ${project.path}: ${why}; ` +
        'a forged token, or one copied from another issue, is never trusted',
      detail,
    );

  const token = target.replyToken === undefined ? undefined : parseReplyToken(target.replyToken);
  if (!token) return invalid('it is not a reply token');
  if (token.projectKey !== project.key) return invalid(`it names project key "${token.projectKey}"`);

  const record = await tickets.get(project.path, token.issueIid);
  const participant = record?.participants[token.participantIndex];
  // The MAC is computed even when there is nothing to compare with, so the answer takes as long for
  // an unknown issue as for a wrong MAC.
  const verified = verifyReplyToken(replyKey, token, project.path, participant?.address ?? '');
  if (!record || !participant || !verified) {
    return invalid('its signature matches no participant of that issue', { issueIid: token.issueIid });
  }
  return pass(
    { issueIid: token.issueIid, via: 'reply_token', record, tokenParticipant: participant.address },
    'found',
    'reply_token',
  );
};

/**
 * A reply token names one participant, and only that participant may use it (DESIGN, "Who wrote a
 * mail"): a participant of the ticket writing with another's token (Bob, on Cc, answering with the
 * reply address Ada was sent) is held for a person, not posted as Bob nor as Ada. `sender` is the
 * normalised address of the mail's sender identity, already known to be a participant; a sender
 * who is no participant at all is a stranger, for the project's `strangers` policy.
 */
export const requireTokenParticipant = (
  found: FoundTicket,
  sender: string,
  projectPath: string,
): StageResult<never, ReplyTokenReason> | undefined => {
  if (found.via !== 'reply_token' || found.tokenParticipant === sender) return undefined;
  return stop(
    'quarantined',
    'reply_token_participant_mismatch',
    `the reply address was issued to another participant of ${projectPath}#${found.issueIid} than the ` +
      'sender; a reply token speaks for its own participant only: release the mail to post it',
    { issueIid: found.issueIid },
  );
};
