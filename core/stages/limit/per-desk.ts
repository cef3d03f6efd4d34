import { LimitScope } from './constants.ts';
import type { InboundLimitRule } from './types.ts';

/**
 * Inbound mails for the whole desk, in `rate_limits.per_desk` windows: the last line against a flood
 * that no single sender or ticket explains (many forged senders, a mailing list gone wrong). It
 * protects the forge and the outbound quota; the mails over it are kept, not lost.
 */
export const perDesk: InboundLimitRule<'rate_limit_per_desk'> = {
  reason: 'rate_limit_per_desk',
  scope: LimitScope.perDesk,
  setting: 'rate_limits.per_desk',
  key: () => 'desk',
  windows: (input) => input.rateLimits.per_desk,
  describe: () => 'mails to the desk',
};
