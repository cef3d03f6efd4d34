import type { DeskConfig } from '../../config/schema.ts';
import type { Envelope, ParsedMail } from '../../model.ts';
import { pass, type StageResult, stop } from '../../trace.ts';
import type { RouteTarget, Stage } from '../contracts.ts';
import { matchAddress } from './match.ts';
import { collectRecipients } from './recipients.ts';

export { fullPathSlug } from './gitlab-slug.ts';
export { type AddressMatch, matchAddress } from './match.ts';
export { collectRecipients, type Recipients } from './recipients.ts';

/**
 * Every reason code of the route stage: which recipients routed (`envelope_recipients`, the SES
 * envelope; `header_recipients`, To/Cc when there is no envelope), or `no_route`.
 */
export type RouteReason = 'envelope_recipients' | 'header_recipients' | 'no_route';

/** Recipients named in a message for a person; the rest are counted. */
const LISTED_RECIPIENTS = 20;

const listRecipients = (addresses: readonly string[]): string => {
  if (addresses.length === 0) return 'none';
  const shown = addresses.slice(0, LISTED_RECIPIENTS).join(', ');
  const more = addresses.length - LISTED_RECIPIENTS;
  return more > 0 ? `${shown} and ${more} more` : shown;
};

/**
 * Maps a mail's recipients to projects: one target per project, so a mail to two desks makes two
 * issues (helpdesk-peers §11.9). When one project is reached twice, a reply token beats a plain
 * address: a customer's reply with `support+game@` in Cc is still a reply, not a new ticket.
 * No project at all ends the mail as `rejected` / `no_route`, with every recipient seen.
 */
export const routeMail = (
  mail: ParsedMail,
  envelope: Envelope,
  config: DeskConfig,
): StageResult<RouteTarget[], RouteReason> => {
  const recipients = collectRecipients(mail, envelope);
  const targets = new Map<string, RouteTarget>();
  const misses: { address: string; why: string }[] = [];

  for (const address of recipients.addresses) {
    const match = matchAddress(address, config);
    if (!match.ok) {
      if (match.why !== 'not a desk address') misses.push({ address, why: match.why });
      continue;
    }
    const target: RouteTarget = { project: match.project, address, via: match.via };
    if (match.replyToken !== undefined) target.replyToken = match.replyToken;
    const existing = targets.get(match.project.path);
    if (!existing || (existing.via !== 'reply_token' && target.via === 'reply_token')) {
      targets.set(match.project.path, target);
    }
  }

  const detail = {
    source: recipients.source,
    recipients: recipients.addresses.slice(0, LISTED_RECIPIENTS),
    ...(misses.length > 0 ? { misses: misses.slice(0, LISTED_RECIPIENTS) } : {}),
  };
  if (targets.size === 0) {
    const hints = misses
      .slice(0, 5)
      .map((entry) => ` ${entry.address}: ${entry.why}.`)
      .join('');
    return stop(
      'rejected',
      'no_route',
      `No recipient routes to a configured project. Recipients seen (${recipients.source}): ${listRecipients(
        recipients.addresses,
      )}.${hints}`,
      detail,
    );
  }
  const routed = [...targets.values()];
  return pass(
    routed,
    'routed',
    recipients.source === 'envelope' ? 'envelope_recipients' : 'header_recipients',
    {
      ...detail,
      routes: routed.map((target) => ({
        project: target.project.path,
        address: target.address,
        via: target.via,
      })),
    },
  );
};

/** The route stage: the mail and its envelope against the desk's config. */
export const routeStage: Stage<
  { mail: ParsedMail; envelope: Envelope },
  RouteTarget[],
  RouteReason,
  'config'
> = async (input, context) => routeMail(input.mail, input.envelope, context.config);
