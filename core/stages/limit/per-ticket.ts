import { LimitScope } from './constants.ts';
import type { InboundLimitRule } from './types.ts';

/**
 * Inbound mails on one ticket (a reply, human or automated), in `rate_limits.per_ticket` windows:
 * Zammad's defence against an autoresponder or a forward rule that answers every mail of a thread
 * (reference helpdesk-peers.md §2.2, §11.6). A new ticket is not counted here.
 */
export const perTicket: InboundLimitRule<'rate_limit_per_ticket'> = {
  reason: 'rate_limit_per_ticket',
  scope: LimitScope.perTicket,
  setting: 'rate_limits.per_ticket',
  key: (input) =>
    input.thread.kind === 'reply'
      ? `${input.project.path.toLowerCase()}#${input.thread.issueIid}`
      : undefined,
  windows: (input) => input.rateLimits.per_ticket,
  describe: (input) =>
    input.thread.kind === 'reply'
      ? `mails on ${input.project.path}#${input.thread.issueIid}`
      : 'mails on one ticket',
};
