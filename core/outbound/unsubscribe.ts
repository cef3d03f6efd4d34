import {
  type ParsedSignedToken,
  type SignedTokenFields,
  signedTokenCodec,
} from '../threading/signed-token.ts';

/**
 * Unsubscribe tokens: the last path segment of `%{UNSUBSCRIBE_URL}` and of `List-Unsubscribe`,
 *
 *     <public_url>/unsubscribe/u-<projectKey>-<iid>-<participant>-<mac>
 *
 * signed tokens like reply tokens (core/threading/signed-token.ts): `participant` is the participant's
 * position in the ticket record (base 36) and `mac` an HMAC-SHA256 keyed by the desk secret's
 * `reply_key` over a different purpose string, the project path, the iid and the participant's
 * lowercased address, truncated to 100 bits in base 32. A reply token cannot be used as an
 * unsubscribe token or the other way round, and neither can be forged without the key.
 */

const unsubscribeTokens = signedTokenCodec('u', 'postdesk-unsubscribe-v1');

export type UnsubscribeTokenFields = SignedTokenFields;
export type ParsedUnsubscribeToken = ParsedSignedToken;

export const createUnsubscribeToken = unsubscribeTokens.create;

/** `<public_url>/unsubscribe/<token>`, without a doubled slash. */
export const unsubscribeUrl = (publicUrl: string, token: string): string =>
  `${publicUrl.replace(/\/+$/, '')}/unsubscribe/${token}`;

/** Reads a token's fields without trusting them; undefined when it is not an unsubscribe token. */
export const parseUnsubscribeToken = unsubscribeTokens.parse;

/** True when the MAC matches this project, issue and participant address; constant time. */
export const verifyUnsubscribeToken = unsubscribeTokens.verify;
