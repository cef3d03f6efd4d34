import { pass, stop } from '../../trace.ts';
import type { Stage } from '../contracts.ts';
import { perDesk } from './per-desk.ts';
import { perSender } from './per-sender.ts';
import { perTicket } from './per-ticket.ts';
import type { InboundLimitRule, LimitInput } from './types.ts';

export { LimitScope } from './constants.ts';
export { perDesk } from './per-desk.ts';
export { perSender } from './per-sender.ts';
export { perTicket } from './per-ticket.ts';
export type { InboundLimitRule, LimitInput } from './types.ts';

/**
 * The inbound rate limits, most specific first: per ticket, per sender, per desk (reference
 * helpdesk-peers.md §11.6). The first full window ends this route of the mail:
 *
 * - a person's mail is quarantined (`rate_limit_per_*`): kept with its trace, and released with
 *   `postdesk quarantine release` once the flood is understood;
 * - automated mail (auto-replies, out-of-office, bulk) is dropped: it would only ever be an internal
 *   note, and a flood of it is the loop this stage exists to stop.
 *
 * Each (rule, mail) is counted once (`RateLimiter.hitOnce`, keyed by the mail id): an SQS retry of
 * the same mail neither counts twice nor changes its answer. Runs after thread (only mail that
 * would make an issue or a note is counted; our own mail and automated mail that opens nothing never
 * get here) and before render.
 */
export const inboundLimitRules = [
  perTicket,
  perSender,
  perDesk,
] as const satisfies readonly InboundLimitRule[];

/** Every reason code of the limit stage: `within_limits`, or the first rule whose window is full. */
export type LimitReason = 'within_limits' | (typeof inboundLimitRules)[number]['reason'];

export interface LimitPass {
  /** The rules that counted this mail, by reason code. */
  checked: LimitReason[];
}

export interface LimitInboundInput extends LimitInput {
  /**
   * Look without counting (`postdesk explain`): the verdict a hit would get, or the one this mail
   * already got; nothing is written. @default false
   */
  readOnly?: boolean | undefined;
}

export const limitInbound: Stage<LimitInboundInput, LimitPass, LimitReason, 'limiter'> = async (
  input,
  { limiter },
) => {
  const checked: LimitReason[] = [];
  for (const rule of inboundLimitRules) {
    const key = rule.key(input);
    if (key === undefined || key === '') continue;
    const windows = rule.windows(input);
    const verdict =
      input.readOnly === true
        ? await limiter.peekOnce(rule.scope, key, windows, input.mailId)
        : await limiter.hitOnce(rule.scope, key, windows, input.mailId);
    checked.push(rule.reason);
    if (verdict.allowed) continue;
    const automated = input.classification.kind !== 'human';
    const exceeded = verdict.exceeded ?? 'a window';
    return stop(
      automated ? 'dropped' : 'quarantined',
      rule.reason,
      `Too many ${rule.describe(input)}: the limit of ${exceeded} (${rule.setting}) is reached. ` +
        (automated
          ? `This ${input.classification.kind.replace(/_/g, ' ')} is dropped, so a mail loop cannot flood the issue.`
          : 'The mail is quarantined, not lost: release it with `postdesk quarantine release` once the flood is over.'),
      { exceeded, scope: rule.scope, checked },
    );
  }
  return pass({ checked }, 'within_limits', 'within_limits', { checked });
};
