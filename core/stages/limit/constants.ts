/**
 * Reason codes and defaults of the inbound rate limits (reference helpdesk-peers.md §11.6). A reader
 * who sees `rate_limit_per_ticket` in a decision trace finds the rule in `per-ticket.ts`.
 */
export const LimitReason = {
  /** Every window of every rule had room: the mail goes on. */
  withinLimits: 'within_limits',
  /** Too many inbound mails on one ticket (`rate_limits.per_ticket`, Zammad's {10 s: 10, 60 s: 25, 600 s: 100}). */
  perTicket: 'rate_limit_per_ticket',
  /** Too many mails from one sender address (`rate_limits.per_sender`). */
  perSender: 'rate_limit_per_sender',
  /** Too many inbound mails for the whole desk (`rate_limits.per_desk`, {10 s: 30, 600 s: 360}). */
  perDesk: 'rate_limit_per_desk',
} as const;
export type LimitReason = (typeof LimitReason)[keyof typeof LimitReason];

/** Counter scopes on the RateLimiter (core/state/rate-limit.ts); `[a-z0-9_-]` only. */
export const LimitScope = {
  perTicket: 'inbound_ticket',
  perSender: 'inbound_sender',
  perDesk: 'inbound_desk',
} as const;

/** Where the verdict for one (rule, mail) is remembered, under the rate-limit prefix so it expires with it. */
export const DECISION_PREFIX = 'ratelimit/inbound-decisions';
