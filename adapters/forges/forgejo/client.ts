import { backoffDelay, parseRetryAfter, realSleep } from '../../../core/backoff.ts';
import { PermanentError, TransientError } from '../../../core/errors.ts';
import type { Logger } from '../../../core/ports.ts';
import { silentLogger } from '../../../core/ports.ts';

/**
 * The HTTP policy shared by the Forgejo/Gitea and GitHub adapters: one JSON call with a timeout,
 * bounded retries with full jitter, `Retry-After` honoured, and the Forge port's error mapping
 * (401/403/404 permanent with a fix; timeouts, 409, 429 and 5xx transient). A POST is sent again
 * only when the forge said it did not act (429, or a rate-limit 403): after a timeout or a 5xx the
 * issue may exist, and the caller recovers it by its marker instead.
 */
export interface RetryOptions {
  /** Attempts per request, the first included. @default 3 */
  attempts?: number;
  /** @default 250 */
  baseMs?: number;
  /** @default 8000 */
  capMs?: number;
  /** Longest wait slept in-process; a longer one goes to the queue as `retryAfterMs`. @default 20000 */
  maxRetryAfterMs?: number;
  sleep?: (ms: number) => Promise<void>;
  random?: () => number;
}

export interface ForgeHttpOptions {
  /** The forge's name in messages: `Forgejo`, `GitHub`. */
  forgeName: string;
  /** API root, e.g. `https://codeberg.org/api/v1`. */
  apiUrl: string;
  /** The `Authorization` header value for a call (never logged). */
  authorization: () => Promise<string>;
  /** Extra headers on every call (GitHub's API version). */
  headers?: Record<string, string>;
  /** What to fix when the forge says 401/403, e.g. which token scopes. */
  authFix: string;
  timeoutMs?: number;
  retry?: RetryOptions;
  logger?: Logger;
  now?: () => number;
}

export interface CallSpec {
  method: 'GET' | 'POST' | 'PATCH';
  /** Path below the API root, already encoded. */
  path: string;
  query?: Record<string, string>;
  json?: unknown;
  form?: FormData;
  /** `create an issue`, for messages. */
  what: string;
  project?: string;
  /** Statuses that are an answer, not an error (404 for a missing file). */
  accept?: readonly number[];
  /** Response body as text instead of JSON. */
  raw?: boolean;
  /** Headers for this call only (GitHub's raw media type). */
  headers?: Record<string, string>;
}

export interface CallResult {
  status: number;
  headers: Headers;
  body: unknown;
  text: string;
}

export interface ForgeHttp {
  call(spec: CallSpec): Promise<CallResult>;
}

const where = (project: string | undefined): string => (project === undefined ? '' : ` in ${project}`);

/** GitHub's secondary rate limit is a 403 (or 429) whose body says so, or one with Retry-After. */
const isRateLimit403 = (headers: Headers, text: string): boolean =>
  headers.get('retry-after') !== null ||
  headers.get('x-ratelimit-remaining') === '0' ||
  /rate limit/i.test(text);

/** Milliseconds until the forge lets us call again: Retry-After first, then x-ratelimit-reset. */
const waitFromHeaders = (headers: Headers, now: number): number | undefined => {
  const after = parseRetryAfter(headers.get('retry-after') ?? undefined, now);
  if (after !== undefined) return after;
  const reset = headers.get('x-ratelimit-reset');
  if (headers.get('x-ratelimit-remaining') === '0' && reset !== null && /^\d+$/.test(reset)) {
    return Math.max(0, Number(reset) * 1000 - now);
  }
  return undefined;
};

const detailOf = (text: string): string => {
  try {
    const parsed: unknown = JSON.parse(text);
    if (typeof parsed === 'object' && parsed !== null && 'message' in parsed) {
      return String((parsed as { message: unknown }).message).slice(0, 200);
    }
  } catch {
    // not JSON: no detail
  }
  return '';
};

export const createForgeHttp = (options: ForgeHttpOptions): ForgeHttp => {
  const name = options.forgeName;
  const attempts = options.retry?.attempts ?? 3;
  const baseMs = options.retry?.baseMs ?? 250;
  const capMs = options.retry?.capMs ?? 8000;
  const maxRetryAfterMs = options.retry?.maxRetryAfterMs ?? 20_000;
  const sleep = options.retry?.sleep ?? realSleep;
  const random = options.retry?.random ?? Math.random;
  const timeoutMs = options.timeoutMs ?? 10_000;
  const logger = options.logger ?? silentLogger;
  const now = options.now ?? Date.now;
  const root = options.apiUrl.replace(/\/+$/, '');

  const call = async (spec: CallSpec): Promise<CallResult> => {
    const url = new URL(`${root}${spec.path}`);
    for (const [key, value] of Object.entries(spec.query ?? {})) url.searchParams.set(key, value);
    let lastReason = '';
    let lastWait: number | undefined;
    let lastCode = 'forge_unavailable';
    for (let attempt = 1; attempt <= attempts; attempt += 1) {
      const headers: Record<string, string> = {
        accept: 'application/json',
        ...options.headers,
        ...spec.headers,
        authorization: await options.authorization(),
      };
      let body: string | FormData | undefined;
      if (spec.json !== undefined) {
        headers['content-type'] = 'application/json';
        body = JSON.stringify(spec.json);
      } else if (spec.form !== undefined) body = spec.form;
      let response: Response;
      let text: string;
      try {
        const init: RequestInit = { method: spec.method, headers, signal: AbortSignal.timeout(timeoutMs) };
        if (body !== undefined) init.body = body;
        response = await fetch(url, init);
        text = await response.text();
      } catch (error) {
        const timedOut =
          error instanceof Error && (error.name === 'TimeoutError' || error.name === 'AbortError');
        lastCode = timedOut ? 'forge_timeout' : 'forge_unavailable';
        lastReason = timedOut
          ? `no answer within ${timeoutMs} ms`
          : `the connection failed (${(error as Error).message})`;
        lastWait = undefined;
        logger.warn('forge call failed', {
          forge: name,
          method: spec.method,
          path: spec.path,
          attempt,
          reason: lastReason,
        });
        if (spec.method === 'POST') break;
        if (attempt < attempts) await sleep(backoffDelay({ baseMs, capMs, random }, attempt));
        continue;
      }
      const status = response.status;
      if ((status >= 200 && status < 300) || spec.accept?.includes(status)) {
        let parsed: unknown;
        if (!spec.raw && text !== '' && status !== 404) {
          try {
            parsed = JSON.parse(text);
          } catch (error) {
            throw new PermanentError(
              'forge_bad_response',
              `${name} answered ${status} with a body that is not JSON when trying to ${spec.what}${where(spec.project)}: check the forge URL (the API root).`,
              { cause: error },
            );
          }
        }
        return { status, headers: response.headers, body: parsed, text };
      }
      const detail = detailOf(text);
      const rateLimited = status === 429 || (status === 403 && isRateLimit403(response.headers, text));
      if (status === 401) {
        throw new PermanentError(
          'forge_unauthorized',
          `${name} rejected the token (401) when trying to ${spec.what}${where(spec.project)}: ${options.authFix}`,
        );
      }
      if (status === 403 && !rateLimited) {
        throw new PermanentError(
          'forge_forbidden',
          `${name} refused to ${spec.what}${where(spec.project)} (403${detail === '' ? '' : `: ${detail}`}): ${options.authFix}`,
        );
      }
      if (status === 404) {
        throw new PermanentError(
          'forge_not_found',
          `${name} answered 404 when trying to ${spec.what}${where(spec.project)}: check projects[].path in the config (owner/repo) and that the bot can see the repository.`,
        );
      }
      if (!rateLimited && status !== 409 && status < 500) {
        throw new PermanentError(
          'forge_rejected',
          `${name} rejected the request to ${spec.what}${where(spec.project)} (${status}${detail === '' ? '' : `: ${detail}`}).`,
        );
      }
      lastCode = rateLimited ? 'forge_rate_limited' : 'forge_unavailable';
      lastReason = `${name} answered ${status}`;
      lastWait = waitFromHeaders(response.headers, now());
      logger.warn('forge call refused', {
        forge: name,
        method: spec.method,
        path: spec.path,
        attempt,
        status,
      });
      // The forge may have acted on a POST that ended in 5xx or 409: never send it twice.
      if (spec.method === 'POST' && !rateLimited) break;
      if (attempt === attempts) break;
      if (lastWait !== undefined && lastWait > maxRetryAfterMs) break;
      await sleep(lastWait ?? backoffDelay({ baseMs, capMs, random }, attempt));
    }
    const retryOptions: { retryAfterMs?: number } = {};
    if (lastWait !== undefined) retryOptions.retryAfterMs = lastWait;
    throw new TransientError(
      lastCode,
      `Could not ${spec.what}${where(spec.project)}: ${lastReason}. The mail will be retried later.`,
      retryOptions,
    );
  };
  return { call };
};
