import { sign } from 'node:crypto';
import * as z from 'zod';
import { type CallSpec, createForgeHttp, type RetryOptions } from '../forgejo/client.ts';
import { parseEntity } from '../forgejo/forge.ts';

/**
 * GitHub App authentication (docs.github.com, "Generating a JSON Web Token (JWT) for a GitHub App"
 * and "Authenticating as a GitHub App installation"): an RS256 JWT signed with the app's private
 * key, `iat` 60 s in the past against clock drift, `exp` at most 10 minutes ahead, `iss` the app's
 * client id or app id; exchanged at POST /app/installations/{id}/access_tokens for a token valid one
 * hour, cached and replaced `refreshBeforeMs` before it ends.
 */
export interface GitHubAppAuthOptions {
  apiUrl: string;
  appId: string;
  installationId: number;
  /** PEM private key of the app. Never logged. */
  privateKey: () => Promise<string>;
  /** @default 5 minutes */
  refreshBeforeMs?: number;
  now?: () => number;
  timeoutMs?: number;
  retry?: RetryOptions;
}

const b64url = (input: Buffer | string): string => Buffer.from(input).toString('base64url');

export const appJwt = (appId: string, privateKey: string, nowMs: number): string => {
  const now = Math.floor(nowMs / 1000);
  const head = b64url(JSON.stringify({ alg: 'RS256', typ: 'JWT' }));
  const body = b64url(JSON.stringify({ iat: now - 60, exp: now + 540, iss: appId }));
  const signature = sign('sha256', Buffer.from(`${head}.${body}`), privateKey);
  return `${head}.${body}.${b64url(signature)}`;
};

const TokenSchema = z.object({ token: z.string().min(1), expires_at: z.string() });

export const createAppTokenSource = (options: GitHubAppAuthOptions): (() => Promise<string>) => {
  const now = options.now ?? Date.now;
  const refreshBeforeMs = options.refreshBeforeMs ?? 5 * 60_000;
  let cached: { token: string; expiresAt: number } | undefined;
  let pending: Promise<string> | undefined;
  let jwt = '';
  const httpOptions: Parameters<typeof createForgeHttp>[0] = {
    forgeName: 'GitHub',
    apiUrl: options.apiUrl,
    authorization: async () => `Bearer ${jwt}`,
    headers: { accept: 'application/vnd.github+json', 'x-github-api-version': '2022-11-28' },
    authFix:
      'check the GitHub App id, its private key in the desk secret and the installation id; the app must be ' +
      'installed on the repository with Issues: read and write and Contents: read.',
  };
  if (options.timeoutMs !== undefined) httpOptions.timeoutMs = options.timeoutMs;
  if (options.retry !== undefined) httpOptions.retry = options.retry;
  const http = createForgeHttp(httpOptions);

  const exchange = async (): Promise<string> => {
    jwt = appJwt(options.appId, await options.privateKey(), now());
    const spec: CallSpec = {
      method: 'POST',
      path: `/app/installations/${options.installationId}/access_tokens`,
      what: 'get an installation token for the GitHub App',
    };
    const response = await http.call(spec);
    const entity = parseEntity(TokenSchema, response.body, 'GitHub', spec.what);
    const expiresAt = Date.parse(entity.expires_at);
    cached = { token: entity.token, expiresAt: Number.isNaN(expiresAt) ? now() + 3_600_000 : expiresAt };
    return entity.token;
  };

  return async () => {
    if (cached !== undefined && cached.expiresAt - refreshBeforeMs > now()) return cached.token;
    pending ??= exchange().finally(() => {
      pending = undefined;
    });
    return pending;
  };
};
