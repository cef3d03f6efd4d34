/**
 * Constants of the inbound rate limits (reference helpdesk-peers.md §11.6). Reason codes live with
 * their rules: a reader who sees `rate_limit_per_ticket` in a decision trace finds `per-ticket.ts`.
 */
/** Counter scopes on the RateLimiter (core/state/rate-limit.ts); `[a-z0-9_-]` only. */
export const LimitScope = {
  perTicket: 'inbound_ticket',
  perSender: 'inbound_sender',
  perDesk: 'inbound_desk',
} as const;
