import { createHmac, timingSafeEqual } from 'node:crypto';

/**
 * Signed links to attachments the desk keeps itself (GitHub has no upload API for issues). A token
 * is `<expiresAtSeconds>.<hex HMAC-SHA256 over "key\nexpiresAt">`; verification recomputes it and
 * compares in constant time. Pure: the key and the clock are arguments.
 */
export const signAttachmentToken = (secret: string, key: string, expiresAtSeconds: number): string => {
  const mac = createHmac('sha256', secret).update(`${key}\n${expiresAtSeconds}`).digest('hex');
  return `${expiresAtSeconds}.${mac}`;
};

export type AttachmentTokenVerdict =
  | { ok: true }
  | { ok: false; reason: 'token_malformed' | 'token_expired' | 'token_mismatch' };

export const verifyAttachmentToken = (
  secret: string,
  key: string,
  token: string,
  nowSeconds: number,
): AttachmentTokenVerdict => {
  const match = /^(\d{1,12})\.([0-9a-f]{64})$/.exec(token);
  if (match?.[1] === undefined || match[2] === undefined) return { ok: false, reason: 'token_malformed' };
  const expiresAt = Number(match[1]);
  const expected = createHmac('sha256', secret).update(`${key}\n${expiresAt}`).digest();
  if (!timingSafeEqual(expected, Buffer.from(match[2], 'hex')))
    return { ok: false, reason: 'token_mismatch' };
  return expiresAt < nowSeconds ? { ok: false, reason: 'token_expired' } : { ok: true };
};
