import type { ParsedMail } from '../../model.ts';
import type { TicketStore } from '../../state/tickets.ts';
import { normalizeMessageId } from '../../state/tickets.ts';
import type { RouteTarget } from '../contracts.ts';
import type { FoundTicket } from './reply-token.ts';

/**
 * Rule 2 (reference helpdesk-peers.md §11.3): In-Reply-To, then References, against the message-id
 * index of every mail we received or sent. Never the subject or the title.
 *
 * - Every In-Reply-To value counts (Chatwoot's FIXME: some clients send several).
 * - References are tried newest first (RFC 5322 lists them oldest first), and split on commas too.
 * - A hit on another project's ticket is ignored: a reply routed to this desk must not become a
 *   comment on an issue in a project it was not sent to.
 * - At most MAX_IDS ids are looked up: a hostile References header can list thousands.
 */
export const MAX_IDS = 32;

const splitIds = (values: readonly string[]): string[] =>
  values
    .flatMap((value) => value.split(/[\s,]+/))
    .map(normalizeMessageId)
    .filter((id) => id !== '');

export interface MessageIdSearch {
  found: FoundTicket | undefined;
  /** Ids that matched a ticket in another project only (ignored). */
  ignoredForeign: number;
}

export const findByMessageIds = async (
  mail: Pick<ParsedMail, 'inReplyTo' | 'references'>,
  target: RouteTarget,
  tickets: TicketStore,
): Promise<MessageIdSearch> => {
  const inReplyTo = splitIds(mail.inReplyTo);
  const references = splitIds(mail.references).reverse();
  const seen = new Set<string>();
  const candidates: { id: string; via: 'in_reply_to' | 'references' }[] = [];
  for (const [ids, via] of [
    [inReplyTo, 'in_reply_to'],
    [references, 'references'],
  ] as const) {
    for (const id of ids) {
      if (seen.has(id) || candidates.length >= MAX_IDS) continue;
      seen.add(id);
      candidates.push({ id, via });
    }
  }

  const project = target.project.path.toLowerCase();
  const hits = await Promise.all(candidates.map((candidate) => tickets.lookupMessageId(candidate.id)));
  let ignoredForeign = 0;
  for (const [index, candidate] of candidates.entries()) {
    const refs = hits[index] ?? [];
    const mine = refs.find((ref) => ref.projectPath.toLowerCase() === project);
    if (!mine) {
      if (refs.length > 0) ignoredForeign += 1;
      continue;
    }
    const record = await tickets.get(target.project.path, mine.iid);
    return { found: { issueIid: mine.iid, via: candidate.via, record }, ignoredForeign };
  }
  return { found: undefined, ignoredForeign };
};
