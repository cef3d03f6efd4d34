import { createHmac, timingSafeEqual } from 'node:crypto';

/**
 * Unsubscribe tokens: the last path segment of `%{UNSUBSCRIBE_URL}` and of `List-Unsubscribe`,
 *
 *     <public_url>/unsubscribe/u-<projectKey>-<iid>-<participant>-<mac>
 *
 * built like reply tokens (core/threading/reply-token.ts): `participant` is the participant's
 * position in the ticket record (base 36) and `mac` an HMAC-SHA256 keyed by the desk secret's
 * `reply_key` over a different purpose string, the project path, the iid and the participant's
 * lowercased address, truncated to 100 bits in base 32. A reply token cannot be used as an
 * unsubscribe token or the other way round, and neither can be forged without the key.
 */

const MAC_CHARS = 20;
const BASE32 = 'abcdefghijklmnopqrstuvwxyz234567';
const TOKEN_PATTERN = /^u-([a-z0-9_]+)-([1-9][0-9]{0,9})-([0-9a-z]{1,4})-([a-z2-7]{20})$/;

export interface UnsubscribeTokenFields {
  projectKey: string;
  issueIid: number;
  participantIndex: number;
}

export interface ParsedUnsubscribeToken extends UnsubscribeTokenFields {
  mac: string;
}

const base32 = (bytes: Buffer, chars: number): string => {
  let bits = 0;
  let value = 0;
  let out = '';
  for (const byte of bytes) {
    value = ((value << 8) | byte) & 0xffff;
    bits += 8;
    while (bits >= 5 && out.length < chars) {
      out += BASE32[(value >>> (bits - 5)) & 31];
      bits -= 5;
    }
    if (out.length >= chars) break;
  }
  return out;
};

const computeMac = (key: string, projectPath: string, issueIid: number, participant: string): string =>
  base32(
    createHmac('sha256', key)
      .update(
        `postdesk-unsubscribe-v1\0${projectPath.toLowerCase()}\0${issueIid}\0${participant.toLowerCase()}`,
      )
      .digest(),
    MAC_CHARS,
  );

export const createUnsubscribeToken = (
  key: string,
  fields: UnsubscribeTokenFields & { projectPath: string; participant: string },
): string =>
  `u-${fields.projectKey}-${fields.issueIid}-${fields.participantIndex.toString(36)}-${computeMac(
    key,
    fields.projectPath,
    fields.issueIid,
    fields.participant,
  )}`;

/** `<public_url>/unsubscribe/<token>`, without a doubled slash. */
export const unsubscribeUrl = (publicUrl: string, token: string): string =>
  `${publicUrl.replace(/\/+$/, '')}/unsubscribe/${token}`;

/** Reads a token's fields without trusting them; undefined when it is not an unsubscribe token. */
export const parseUnsubscribeToken = (token: string): ParsedUnsubscribeToken | undefined => {
  const match = TOKEN_PATTERN.exec(token);
  if (!match) return undefined;
  const [, projectKey, iid, participant, mac] = match;
  if (!projectKey || !iid || !participant || !mac) return undefined;
  return { projectKey, issueIid: Number(iid), participantIndex: Number.parseInt(participant, 36), mac };
};

/** True when the MAC matches this project, issue and participant address; constant time. */
export const verifyUnsubscribeToken = (
  key: string,
  token: ParsedUnsubscribeToken,
  projectPath: string,
  participant: string,
): boolean => {
  const expected = Buffer.from(computeMac(key, projectPath, token.issueIid, participant));
  const given = Buffer.from(token.mac);
  return expected.length === given.length && timingSafeEqual(expected, given);
};
