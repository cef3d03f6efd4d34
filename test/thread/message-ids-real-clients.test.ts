import { describe, expect, it } from 'vitest';
import { createMemoryObjectStore } from '../../adapters/local/memory-object-store.ts';
import { ProjectSchema } from '../../core/config/schema.ts';
import type { ParsedMail } from '../../core/model.ts';
import { systemClock } from '../../core/ports.ts';
import type { RouteTarget } from '../../core/stages/contracts.ts';
import { parseMail } from '../../core/stages/parse/index.ts';
import { findByMessageIds, messageIdsInHeader } from '../../core/stages/thread/message-ids.ts';
import { createTicketStore } from '../../core/state/tickets.ts';
import { bufferOpener, limitsWith } from '../parse/fixtures.ts';

const game = ProjectSchema.parse({ path: 'acme/game', key: 'game' });
const target: RouteTarget = { project: game, address: 'support+game@desk.example.com', via: 'project_key' };

/** References as Exchange, iOS Mail and Lotus Notes write them; the ticket's id is `first@mail.example.com`. */
const FORMS = {
  quotedCommaJoined: '"<unknown@x.example>","<first@mail.example.com>"',
  commaNoSpace: '<unknown@x.example>,<first@mail.example.com>',
  commaSpace: '<unknown@x.example>, <first@mail.example.com>',
  folded: '<unknown@x.example>\r\n <first@mail.example.com>',
  withComments: '<first@mail.example.com> (Lotus Notes) <unknown@x.example> (sent by iPhone)',
  quotedSpaced: '"<first@mail.example.com>" "<unknown@x.example>"',
} as const;

const rawReply = (references: string): string =>
  [
    'From: Alice <alice@example.com>',
    'To: support+game@desk.example.com',
    'Subject: Re: crash on start',
    'Message-ID: <reply-1@mail.example.com>',
    `References: ${references}`,
    '',
    'still broken',
    '',
  ].join('\r\n');

const parsed = async (raw: string): Promise<ParsedMail> => {
  const result = await parseMail(bufferOpener(raw), { limits: limitsWith() });
  if (!result.ok) throw new Error(`parse failed: ${result.reason}`);
  return result.value;
};

describe('References as real clients write them', () => {
  it.each(Object.entries(FORMS))(
    'threads a reply whose References is %s into the existing ticket',
    async (_, value) => {
      // Prepare
      const tickets = createTicketStore(createMemoryObjectStore(), { clock: systemClock });
      await tickets.recordInbound({
        projectPath: 'acme/game',
        iid: 42,
        mailId: 'ses-1',
        messageId: 'first@mail.example.com',
        sender: { name: '', address: 'alice@example.com' },
        cc: [],
        participantsFromCc: true,
        isDeskAddress: (address) => address.endsWith('@desk.example.com'),
      });
      const mail = await parsed(rawReply(value));
      // Act
      const search = await findByMessageIds(mail, target, tickets);
      // Assess
      expect(search.found).toMatchObject({ issueIid: 42, via: 'references' });
    },
  );

  it('reads quoted, comma-joined ids in order and skips comments', () => {
    expect(messageIdsInHeader('"<a@x>","<b@y>" (c@comment) <c@z>')).toEqual(['a@x', 'b@y', 'c@z']);
  });
});
