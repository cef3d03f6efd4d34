import { createHmac, timingSafeEqual } from 'node:crypto';

/**
 * Reply tokens: the sub-address that carries a customer's reply back to its issue.
 *
 *     <mailbox>+r-<projectKey>-<iid>-<participant>-<mac>@<domain>
 *     support+r-game-42-0-k3j9x2m4p7q8r5t6v1w0@desk.example.com
 *
 * `participant` is the participant's position in the ticket record (base 36) and `mac` is an
 * HMAC-SHA256, keyed by the desk secret's `reply_key`, over the project path, the issue iid and the
 * participant's lowercased address, truncated to 100 bits and written in base 32 (20 characters).
 * SES rewrites the Message-ID of mail we send, so this address (not a header) is the primary
 * threading key; the MAC is what makes it safe to trust (a bare id, like Chatwoot's UUIDs, is not).
 */

/** 20 base-32 characters = 100 bits, above the 80 the design asks for. */
const MAC_CHARS = 20;
const BASE32 = 'abcdefghijklmnopqrstuvwxyz234567';
const TOKEN_PATTERN = /^r-([a-z0-9_]+)-([1-9][0-9]{0,9})-([0-9a-z]{1,4})-([a-z2-7]{20})$/;

export interface ReplyTokenFields {
  projectKey: string;
  issueIid: number;
  participantIndex: number;
}

export interface ParsedReplyToken extends ReplyTokenFields {
  mac: string;
  /** The whole token as it appeared in the address. */
  token: string;
}

const base32 = (bytes: Buffer, chars: number): string => {
  let bits = 0;
  let value = 0;
  let out = '';
  for (const byte of bytes) {
    value = (value << 8) | byte;
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
      .update(`postdesk-reply-v1\0${projectPath.toLowerCase()}\0${issueIid}\0${participant.toLowerCase()}`)
      .digest(),
    MAC_CHARS,
  );

/** Builds the token for one participant of one issue. */
export const createReplyToken = (
  key: string,
  fields: ReplyTokenFields & { projectPath: string; participant: string },
): string =>
  `r-${fields.projectKey}-${fields.issueIid}-${fields.participantIndex.toString(36)}-${computeMac(
    key,
    fields.projectPath,
    fields.issueIid,
    fields.participant,
  )}`;

/** The full reply address for a token. */
export const replyAddress = (mailbox: string, domain: string, token: string): string =>
  `${mailbox}+${token}@${domain}`;

/** Reads a token's fields without trusting them; undefined when it is not a reply token at all. */
export const parseReplyToken = (token: string): ParsedReplyToken | undefined => {
  const match = TOKEN_PATTERN.exec(token.toLowerCase());
  if (!match) return undefined;
  const [, projectKey, iid, participant, mac] = match;
  if (!projectKey || !iid || !participant || !mac) return undefined;
  return {
    projectKey,
    issueIid: Number(iid),
    participantIndex: Number.parseInt(participant, 36),
    mac,
    token: token.toLowerCase(),
  };
};

/** True when the token's MAC matches this project, issue and participant address; constant time. */
export const verifyReplyToken = (
  key: string,
  token: ParsedReplyToken,
  projectPath: string,
  participant: string,
): boolean => {
  const expected = Buffer.from(computeMac(key, projectPath, token.issueIid, participant));
  const given = Buffer.from(token.mac);
  return expected.length === given.length && timingSafeEqual(expected, given);
};
