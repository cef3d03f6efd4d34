import type { DeskConfig } from '../config/schema.ts';
import type { RateLimiter } from '../state/rate-limit.ts';
import { normalizeAddress } from '../state/tickets.ts';
import { AUTOMATIC_WINDOW_SECONDS, THANK_YOU_WINDOW_SECONDS } from './constants.ts';

/**
 * The caps on automatic mail (thank_you, new_participant), checked when the mail is planned
 * (core/outbound/on-delivered.ts), never on a team's answer:
 *
 * - `thank_you_cap`: at most `rate_limits.thank_you_per_sender` thank-yous to one address in 3
 *   hours, whatever the subject (FreeScout's "2 in 3 hours", helpdesk-peers.md §11.6). Keyed on the
 *   address alone: keyed on address and subject, one sender varying the subject was thanked once
 *   per subject (issue-14: 10 thank-yous in 20 s). The same cap holds for the mail's From when the
 *   thank-you goes to another address (its Reply-To): a machine that answers from one address with
 *   a new Reply-To each time (another desk's reply addresses, behind a forwarder that strips loop
 *   headers) would otherwise never fill the cap, and two desks would thank each other forever.
 * - `automatic_cap`: at most `rate_limits.automatic_per_hour` automatic mails from the whole desk
 *   in any hour. Anyone can put any address in From; this bounds how much mail the desk can be
 *   made to send to people who never wrote to it, whatever the number of addresses used.
 *
 * Every window is checked before any is counted, so a mail refused by one cap uses up no other.
 * 0 turns a cap off.
 */

export const AutomaticCapReason = {
  thankYou: 'thank_you_cap',
  desk: 'automatic_cap',
} as const;
export type AutomaticCapReason = (typeof AutomaticCapReason)[keyof typeof AutomaticCapReason];

export interface AutomaticMail {
  kind: 'thank_you' | 'new_participant';
  /** The address the mail goes to. */
  to: string;
  /** The address in the inbound mail's From, when it differs from `to` it is capped too. */
  author?: string | undefined;
}

interface Counter {
  scope: string;
  key: string;
  windows: Record<string, number>;
  reason: AutomaticCapReason;
}

export const createAutomaticMailCaps = (config: DeskConfig, limiter: RateLimiter) => {
  const counters = (mail: AutomaticMail): Counter[] => {
    const result: Counter[] = [];
    const perSender = config.rate_limits.thank_you_per_sender;
    if (mail.kind === 'thank_you' && perSender > 0) {
      const windows = { [String(THANK_YOU_WINDOW_SECONDS)]: perSender };
      const to = normalizeAddress(mail.to);
      result.push({ scope: 'thank_you', key: to, windows, reason: AutomaticCapReason.thankYou });
      const author = mail.author === undefined ? undefined : normalizeAddress(mail.author);
      if (author !== undefined && author !== to) {
        result.push({ scope: 'thank_you_from', key: author, windows, reason: AutomaticCapReason.thankYou });
      }
    }
    const perHour = config.rate_limits.automatic_per_hour;
    if (perHour > 0) {
      result.push({
        scope: 'automatic',
        key: 'desk',
        windows: { [String(AUTOMATIC_WINDOW_SECONDS)]: perHour },
        reason: AutomaticCapReason.desk,
      });
    }
    return result;
  };

  return {
    /** Counts the mail against every cap and returns the first one it is over, or undefined to send it. */
    async admit(mail: AutomaticMail): Promise<AutomaticCapReason | undefined> {
      const all = counters(mail);
      for (const counter of all) {
        const verdict = await limiter.peek(counter.scope, counter.key, counter.windows);
        if (!verdict.allowed) return counter.reason;
      }
      for (const counter of all) {
        // A writer racing to the same limit may have taken the last place since the peek.
        const verdict = await limiter.hit(counter.scope, counter.key, counter.windows);
        if (!verdict.allowed) return counter.reason;
      }
      return undefined;
    },
  };
};

export type AutomaticMailCaps = ReturnType<typeof createAutomaticMailCaps>;
