import { createHmac, timingSafeEqual } from 'node:crypto';
import * as z from 'zod';
import type { ForgeEventResult } from '../../../core/forge-events.ts';

/**
 * Webhook signatures and payloads, pure functions. GitHub signs the raw body with HMAC-SHA256 and
 * sends `X-Hub-Signature-256: sha256=<hex>` (docs.github.com, "Validating webhook deliveries");
 * Forgejo sends `X-Forgejo-Signature: <hex>` and Gitea `X-Gitea-Signature: <hex>`, the same HMAC
 * without a prefix (Forgejo `services/webhook/deliver.go`). The signature is checked over the raw
 * bytes, in constant time, before anything parses the JSON.
 */
export type SignatureVerdict =
  | { ok: true }
  | { ok: false; reason: 'signature_missing' | 'signature_malformed' | 'signature_mismatch' };

const HEX_SHA256 = /^[0-9a-f]{64}$/i;

const compareHex = (expected: Buffer, given: string): SignatureVerdict => {
  if (!HEX_SHA256.test(given)) return { ok: false, reason: 'signature_malformed' };
  const actual = Buffer.from(given, 'hex');
  return actual.length === expected.length && timingSafeEqual(actual, expected)
    ? { ok: true }
    : { ok: false, reason: 'signature_mismatch' };
};

const hmac = (secret: string, body: Buffer | string): Buffer =>
  createHmac('sha256', secret).update(body).digest();

const header = (headers: Record<string, string | string[] | undefined>, name: string): string | undefined => {
  const wanted = name.toLowerCase();
  for (const [key, value] of Object.entries(headers)) {
    if (key.toLowerCase() === wanted) return Array.isArray(value) ? value[0] : value;
  }
  return undefined;
};

export const verifyGitHubSignature = (
  secret: string,
  rawBody: Buffer | string,
  headers: Record<string, string | string[] | undefined>,
): SignatureVerdict => {
  const value = header(headers, 'x-hub-signature-256')?.trim();
  if (value === undefined || value === '') return { ok: false, reason: 'signature_missing' };
  if (!value.startsWith('sha256=')) return { ok: false, reason: 'signature_malformed' };
  return compareHex(hmac(secret, rawBody), value.slice('sha256='.length));
};

export const verifyForgejoSignature = (
  secret: string,
  rawBody: Buffer | string,
  headers: Record<string, string | string[] | undefined>,
): SignatureVerdict => {
  const value = (header(headers, 'x-forgejo-signature') ?? header(headers, 'x-gitea-signature'))?.trim();
  if (value === undefined || value === '') return { ok: false, reason: 'signature_missing' };
  return compareHex(hmac(secret, rawBody), value);
};

const User = z.object({ login: z.string(), type: z.string().optional() });
const Payload = z.object({
  action: z.string(),
  issue: z.object({ number: z.number().int(), pull_request: z.unknown().optional() }),
  comment: z.object({ body: z.string(), user: User }).optional(),
  repository: z.object({ full_name: z.string() }),
  sender: User,
});

/**
 * `issues` and `issue_comment` deliveries from GitHub and Forgejo/Gitea (the payloads share their
 * shape: Gitea modelled them on GitHub's). Call only after the signature was verified.
 */
export const parseForgeWebhook = (
  eventName: string | undefined,
  deliveryId: string,
  rawBody: Buffer | string,
): ForgeEventResult => {
  if (eventName !== 'issues' && eventName !== 'issue_comment')
    return { ok: false, reason: 'event_not_handled' };
  let json: unknown;
  try {
    json = JSON.parse(typeof rawBody === 'string' ? rawBody : rawBody.toString('utf8'));
  } catch {
    return { ok: false, reason: 'payload_invalid' };
  }
  const parsed = Payload.safeParse(json);
  if (!parsed.success) return { ok: false, reason: 'payload_invalid' };
  const payload = parsed.data;
  if (payload.issue.pull_request !== undefined && payload.issue.pull_request !== null) {
    return { ok: false, reason: 'pull_request' };
  }
  const base = {
    projectPath: payload.repository.full_name,
    issueNumber: payload.issue.number,
    internal: false as const,
    deliveryId,
  };
  if (eventName === 'issue_comment') {
    if (payload.action !== 'created' || payload.comment === undefined) {
      return { ok: false, reason: 'action_not_handled' };
    }
    const user = payload.comment.user;
    return {
      ok: true,
      event: {
        ...base,
        kind: 'comment_created',
        commentBody: payload.comment.body,
        author: user.login,
        isBot: user.type === 'Bot' || user.login.endsWith('[bot]'),
      },
    };
  }
  const kind =
    payload.action === 'closed'
      ? 'issue_closed'
      : payload.action === 'reopened'
        ? 'issue_reopened'
        : undefined;
  if (kind === undefined) return { ok: false, reason: 'action_not_handled' };
  return {
    ok: true,
    event: {
      ...base,
      kind,
      commentBody: '',
      author: payload.sender.login,
      isBot: payload.sender.type === 'Bot' || payload.sender.login.endsWith('[bot]'),
    },
  };
};
