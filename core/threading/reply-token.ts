import { type ParsedSignedToken, type SignedTokenFields, signedTokenCodec } from './signed-token.ts';

/**
 * Reply tokens: the sub-address that carries a customer's reply back to its issue.
 *
 *     <mailbox>+r-<projectKey>-<iid>-<participant>-<mac>@<domain>
 *     support+r-game-42-0-k3j9x2m4p7q8r5t6v1w0@desk.example.com
 *
 * A signed token (core/threading/signed-token.ts) for one participant of one issue. SES rewrites
 * the Message-ID of mail we send, so this address (not a header) is the primary threading key; the
 * MAC is what makes it safe to trust (a bare id, like Chatwoot's UUIDs, is not).
 */
const replyTokens = signedTokenCodec('r', 'postdesk-reply-v1');

export type ReplyTokenFields = SignedTokenFields;
export type ParsedReplyToken = ParsedSignedToken;

/** Builds the token for one participant of one issue. */
export const createReplyToken = replyTokens.create;

/** The full reply address for a token. */
export const replyAddress = (mailbox: string, domain: string, token: string): string =>
  `${mailbox}+${token}@${domain}`;

/** Reads a token's fields without trusting them; undefined when it is not a reply token at all. */
export const parseReplyToken = replyTokens.parse;

/** True when the token's MAC matches this project, issue and participant address; constant time. */
export const verifyReplyToken = replyTokens.verify;
