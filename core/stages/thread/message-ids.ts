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

/** Removes `(comments)` outside `<...>` in one linear pass (RFC 5322 §3.2.2 CFWS; nesting allowed). */
const withoutComments = (value: string): string => {
  let out = '';
  let depth = 0;
  let inAngle = false;
  for (let i = 0; i < value.length; i++) {
    const char = value.charAt(i);
    if (depth > 0) {
      if (char === '\\') i++;
      else if (char === '(') depth++;
      else if (char === ')') depth--;
      continue;
    }
    if (char === '(' && !inAngle) {
      depth = 1;
      out += ' ';
      continue;
    }
    if (char === '<') inAngle = true;
    else if (char === '>') inAngle = false;
    out += char;
  }
  return out;
};

/**
 * Ids as real clients write them, read again from the raw header: inside quotes
 * (`"<a@x>","<b@y>"`, seen from Exchange and Lotus), joined by commas with or without spaces,
 * folded, with comments. RFC 5322 §3.6.4 allows none of the quotes or commas, but the Ruby `mail`
 * gem GitLab uses (`Mail::MessageIdsElement`) reads them, and a reply that is not threaded opens a
 * second ticket.
 */
export const messageIdsInHeader = (value: string): string[] => {
  const flat = withoutComments(value.replace(/\r?\n[ \t]/g, ' ')).replace(/["']/g, ' ');
  const ids: string[] = [];
  for (const match of flat.matchAll(/<([^<>]*)>|([^\s,;<>]+@[^\s,;<>]+)/g)) {
    const id = (match[1] ?? match[2] ?? '').replace(/\s+/g, '');
    if (id !== '') ids.push(id);
  }
  return ids;
};

type ThreadHeaders = Pick<ParsedMail, 'inReplyTo' | 'references'> & Partial<Pick<ParsedMail, 'headers'>>;

/**
 * The tolerant reading of the raw header first (it keeps the header's order, which References
 * needs: oldest first), then any parsed id it missed.
 */
const idsOf = (mail: ThreadHeaders, field: 'inReplyTo' | 'references', header: string): string[] => {
  const raw = mail.headers?.get(header) ?? [];
  const ids = [...splitIds(raw.flatMap(messageIdsInHeader)), ...splitIds(mail[field])];
  return [...new Set(ids)];
};

/** Reason codes of rule 2: the header whose message id named a ticket of this project. */
export type MessageIdReason = 'in_reply_to' | 'references';

export interface MessageIdSearch {
  found: FoundTicket | undefined;
  /** Ids that matched a ticket in another project only (ignored). */
  ignoredForeign: number;
}

export const findByMessageIds = async (
  mail: ThreadHeaders,
  target: RouteTarget,
  tickets: TicketStore,
): Promise<MessageIdSearch> => {
  const inReplyTo = idsOf(mail, 'inReplyTo', 'in-reply-to');
  const references = idsOf(mail, 'references', 'references').reverse();
  const seen = new Set<string>();
  const candidates: { id: string; via: MessageIdReason }[] = [];
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
