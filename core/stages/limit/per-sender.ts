import { authorSender } from '../thread/sender.ts';
import { LimitScope } from './constants.ts';
import type { InboundLimitRule } from './types.ts';

/**
 * Mails from one sender address (From, the address DMARC aligns; never Reply-To, which anyone can
 * set), across every project and ticket: an autoresponder answering each of our mails, or one
 * address flooding the desk, is stopped however it spreads its mail. A mail with no usable From is
 * not counted here (the per-desk limit still counts it).
 */
export const perSender: InboundLimitRule<'rate_limit_per_sender'> = {
  reason: 'rate_limit_per_sender',
  scope: LimitScope.perSender,
  setting: 'the per-sender default (core/stages/limit/constants.ts)',
  key: (input) => authorSender(input.mail, input.isDeskAddress)?.address.trim().toLowerCase(),
  windows: (input) => input.perSenderWindows ?? input.rateLimits.per_sender,
  describe: () => 'mails from this sender',
};
