import { createHmac, timingSafeEqual } from 'node:crypto';

/**
 * A token that names one participant of one issue and proves it was issued by the desk:
 *
 *     <prefix>-<projectKey>-<iid>-<participant>-<mac>
 *
 * `participant` is the participant's position in the ticket record (base 36) and `mac` is an
 * HMAC-SHA256, keyed by the desk secret's `reply_key`, over a purpose string, the project path, the
 * issue iid and the participant's lowercased address, truncated to 100 bits and written in base 32
 * (20 characters). Each kind of token has its own prefix and purpose, so a reply token cannot be
 * used as an unsubscribe token or the other way round, and none can be forged without the key.
 */

/** 20 base-32 characters = 100 bits, above the 80 the design asks for. */
const MAC_CHARS = 20;
const BASE32 = 'abcdefghijklmnopqrstuvwxyz234567';

export interface SignedTokenFields {
  projectKey: string;
  issueIid: number;
  participantIndex: number;
}

export interface ParsedSignedToken extends SignedTokenFields {
  mac: string;
  /** The whole token, lowercased. */
  token: string;
}

export interface SignedTokenCodec {
  create(key: string, fields: SignedTokenFields & { projectPath: string; participant: string }): string;
  /** Reads a token's fields without trusting them; undefined when it is not this kind of token. */
  parse(token: string): ParsedSignedToken | undefined;
  /** True when the MAC matches this project, issue and participant address; constant time. */
  verify(key: string, token: ParsedSignedToken, projectPath: string, participant: string): boolean;
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

export const signedTokenCodec = (prefix: string, purpose: string): SignedTokenCodec => {
  const pattern = new RegExp(
    `^${prefix}-([a-z0-9_]+)-([1-9][0-9]{0,9})-([0-9a-z]{1,4})-([a-z2-7]{${MAC_CHARS}})$`,
  );
  const mac = (key: string, projectPath: string, issueIid: number, participant: string): string =>
    base32(
      createHmac('sha256', key)
        .update(`${purpose}\0${projectPath.toLowerCase()}\0${issueIid}\0${participant.toLowerCase()}`)
        .digest(),
      MAC_CHARS,
    );
  return {
    create: (key, fields) =>
      `${prefix}-${fields.projectKey}-${fields.issueIid}-${fields.participantIndex.toString(36)}-${mac(
        key,
        fields.projectPath,
        fields.issueIid,
        fields.participant,
      )}`,
    parse: (token) => {
      const lower = token.toLowerCase();
      const match = pattern.exec(lower);
      if (!match) return undefined;
      const [, projectKey, iid, participant, given] = match;
      if (!projectKey || !iid || !participant || !given) return undefined;
      return {
        projectKey,
        issueIid: Number(iid),
        participantIndex: Number.parseInt(participant, 36),
        mac: given,
        token: lower,
      };
    },
    verify: (key, token, projectPath, participant) => {
      const expected = Buffer.from(mac(key, projectPath, token.issueIid, participant));
      const given = Buffer.from(token.mac);
      return expected.length === given.length && timingSafeEqual(expected, given);
    },
  };
};
