import http from 'node:http';
import https from 'node:https';
import type { Readable } from 'node:stream';
import type * as z from 'zod';
import { PermanentError, PostdeskError } from '../../../core/errors.ts';
import { type Logger, silentLogger } from '../../../core/ports.ts';
import { SecretScrubber } from '../../../core/redact.ts';
import { GITLAB_DEFAULTS, RETRYABLE_STATUSES, USER_AGENT } from './constants.ts';
import {
  badResponseError,
  type CallContext,
  forbiddenError,
  missingTokenError,
  notFoundError,
  rejectedError,
  type TransientCode,
  tlsError,
  tokenRefreshedError,
  tooLargeError,
  transientCode,
  transientError,
  unauthorizedError,
} from './errors.ts';
import { exchange, type HttpResult, TransportFailure } from './http.ts';
import { multipartFraming } from './multipart.ts';
import { fullJitterDelay, parseRetryAfter, realSleep } from './retry.ts';
import { describeIssues } from './schemas.ts';
import type { GitLabForgeOptions } from './types.ts';

/**
 * The policy around one GitLab REST call: authentication with a refresh on 401, bounded retries
 * with full jitter that honour `Retry-After`, and the mapping of every failure to a
 * PermanentError (a person must fix something; the message says what) or a TransientError.
 */

export interface ApiCall extends CallContext {
  method: 'GET' | 'POST' | 'PUT';
  /** Path under `/api/v4`, already percent-encoded, e.g. `/projects/acme%2Fgame/issues`. */
  path: string;
  query?: Record<string, string | number | boolean> | undefined;
  json?: unknown;
  /** Answer 404 with the response instead of throwing (the caller tells a missing file apart). */
  allowNotFound?: boolean | undefined;
  /** Replaces the default advice of a 403 (for calls that need more than the usual role). */
  forbiddenHint?: string | undefined;
}

export interface UploadCall extends CallContext {
  path: string;
  field: string;
  filename: string;
  contentType: string;
  content: Readable;
  size: number | undefined;
}

export interface ApiResponse {
  status: number;
  headers: http.IncomingHttpHeaders;
  text(): string;
  /**
   * The body, parsed and checked against `schema` (adapters/forges/gitlab/schemas.ts). Not JSON, or
   * not the shape: a forge_bad_response PermanentError naming the endpoint and each field path.
   */
  json<S extends z.ZodType>(schema: S): z.output<S>;
}

export interface GitLabClient {
  /** The instance's base URL (origin plus relative root, no trailing slash). */
  readonly baseUrl: URL;
  call(call: ApiCall): Promise<ApiResponse>;
  /** Sends a single-use stream; retried only while the stream is untouched. */
  upload(call: UploadCall): Promise<ApiResponse>;
}

/** Answers of a proxy in front of GitLab that lost track of the request it forwarded. */
const GATEWAY_STATUSES: ReadonlySet<number> = new Set([502, 504]);

/**
 * Whether a failed exchange can have reached GitLab. A POST (create an issue, add a note) is not
 * idempotent: sent again after GitLab got it, it makes a second issue, and a slow answer that timed
 * out here is usually still being processed there. So a POST is retried in-process only when the
 * connection was never made (refused, connect timeout, DNS); after that the caller gets a
 * TransientError, deliver keeps its ledger lease, and the queue's retry after the lease finds what
 * this attempt made by its hidden marker. POSTs go out on a fresh connection (see `send`), so a
 * kept-alive socket GitLab had already closed cannot turn an ordinary race into a retry by the queue.
 * (Regression tests: test/reliability/fault-matrix.test.ts, "issue-slow-create-duplicate" and
 * "issue-lost-answer-duplicate".)
 */
const mayHaveReachedGitLab = (failure: TransportFailure): boolean => failure.progress.requestSent;

export const createGitLabClient = (options: GitLabForgeOptions): GitLabClient => {
  const baseUrl = parseBaseUrl(options.url);
  const apiRoot = `${baseUrl.pathname.replace(/\/+$/, '')}/api/v4`;
  const timeoutMs = options.timeoutMs ?? GITLAB_DEFAULTS.timeoutMs;
  const connectTimeoutMs = Math.min(options.connectTimeoutMs ?? GITLAB_DEFAULTS.connectTimeoutMs, timeoutMs);
  const uploadTimeoutMs = options.uploadTimeoutMs ?? GITLAB_DEFAULTS.uploadTimeoutMs;
  const attempts = Math.max(1, options.retry?.attempts ?? GITLAB_DEFAULTS.attempts);
  const baseMs = options.retry?.baseMs ?? GITLAB_DEFAULTS.baseMs;
  const capMs = options.retry?.capMs ?? GITLAB_DEFAULTS.capMs;
  const maxRetryAfterMs = options.retry?.maxRetryAfterMs ?? GITLAB_DEFAULTS.maxRetryAfterMs;
  const sleep = options.retry?.sleep ?? realSleep;
  const random = options.retry?.random ?? Math.random;
  const logger: Logger = options.logger ?? silentLogger;
  // One pool per adapter, built once per cold start. Idle sockets are unref'd by Node.
  const agent =
    baseUrl.protocol === 'https:'
      ? new https.Agent({ keepAlive: true, maxSockets: 16 })
      : new http.Agent({ keepAlive: true, maxSockets: 16 });

  // Every token value we have sent, scrubbed from any remote text we quote in whatever form
  // GitLab echoes it (cut short, base64, another letter case): core/redact.ts.
  const seenTokens = new SecretScrubber();
  const redact = (text: string): string => seenTokens.scrub(text);

  const currentToken = async (): Promise<string> => {
    const token = (await options.token()).trim();
    if (token === '') throw missingTokenError();
    if (/[\r\n\0]/.test(token)) {
      throw new PermanentError(
        'forge_unauthorized',
        'The forge_token in the desk secret contains a line break: write it again with `postdesk secret write`.',
      );
    }
    seenTokens.add([token]);
    return token;
  };

  /**
   * After a 401 sent with `used`: the token to try next, or undefined when there is none. When
   * another request already renewed the token, that one is used without re-reading the secret
   * again; concurrent 401s share one `onUnauthorized` call.
   */
  let refreshing: Promise<void> | undefined;
  const renewToken = async (used: string): Promise<string | undefined> => {
    const latest = await currentToken();
    if (latest !== used && refreshing === undefined) return latest;
    if (options.onUnauthorized === undefined) return undefined;
    refreshing ??= options.onUnauthorized().finally(() => {
      refreshing = undefined;
    });
    await refreshing;
    return currentToken();
  };

  const urlFor = (path: string, query?: ApiCall['query']): URL => {
    const url = new URL(`${baseUrl.origin}${apiRoot}${path}`);
    for (const [key, value] of Object.entries(query ?? {})) url.searchParams.set(key, String(value));
    return url;
  };

  const headersFor = (token: string, extra: Record<string, string>): Record<string, string> => ({
    accept: 'application/json',
    'user-agent': USER_AGENT,
    'PRIVATE-TOKEN': token,
    ...extra,
  });

  const detailOf = (result: HttpResult): string => redact(remoteMessage(result.body)).slice(0, 300);

  /** Maps a non-2xx, non-retryable answer to a permanent error. */
  const permanentFor = (call: CallContext & { forbiddenHint?: string | undefined }, result: HttpResult) => {
    const detail = detailOf(result);
    switch (result.status) {
      case 403:
        return forbiddenError(call, detail, call.forbiddenHint);
      case 404:
        return notFoundError(call, detail);
      case 413:
        return tooLargeError(call, detail);
      default:
        return rejectedError(call, result.status, detail);
    }
  };

  const codeForStatus = (status: number): TransientCode =>
    status === 429
      ? transientCode.rateLimited
      : status === 408
        ? transientCode.timeout
        : transientCode.unavailable;

  const codeForFailure = (failure: TransportFailure): TransientCode =>
    failure.kind === 'timeout' ? transientCode.timeout : transientCode.unavailable;

  const respond = (
    result: HttpResult,
    spec: CallContext & { method: string; path: string },
  ): ApiResponse => ({
    status: result.status,
    headers: result.headers,
    text: () => result.body.toString('utf8'),
    json: <S extends z.ZodType>(schema: S): z.output<S> => {
      const answer = { endpoint: `${spec.method} ${spec.path}`, status: result.status };
      let parsed: unknown;
      try {
        parsed = JSON.parse(result.body.toString('utf8'));
      } catch (error) {
        throw badResponseError(spec, answer, 'the body is not JSON', error);
      }
      const checked = schema.safeParse(parsed);
      if (!checked.success) throw badResponseError(spec, answer, describeIssues(checked.error.issues));
      return checked.data;
    },
  });

  const call = (spec: ApiCall): Promise<ApiResponse> => send(spec, true);

  const send = async (spec: ApiCall, mayRenewToken: boolean): Promise<ApiResponse> => {
    const url = urlFor(spec.path, spec.query);
    const body = spec.json === undefined ? undefined : Buffer.from(JSON.stringify(spec.json), 'utf8');
    const extra: Record<string, string> = body === undefined ? {} : { 'content-type': 'application/json' };
    let token = await currentToken();
    let refreshed = !mayRenewToken;
    for (let attempt = 1; ; attempt++) {
      let result: HttpResult;
      try {
        result = await exchange({
          method: spec.method,
          url,
          headers: headersFor(token, extra),
          body,
          // A POST never rides a kept-alive socket: one that GitLab closed while idle would fail it
          // after the connection was made, and such a POST is not re-sent (mayHaveReachedGitLab).
          agent: spec.method === 'POST' ? false : agent,
          connectTimeoutMs,
          totalTimeoutMs: timeoutMs,
          maxResponseBytes: GITLAB_DEFAULTS.maxResponseBytes,
        });
      } catch (error) {
        if (!(error instanceof TransportFailure)) throw error;
        if (error.kind === 'tls') throw tlsError(spec, error);
        if (error.kind === 'too_large' || error.kind === 'source') {
          throw new PermanentError('forge_bad_response', `Could not ${spec.what}: ${error.message}.`, {
            cause: error,
          });
        }
        const wait = fullJitterDelay(attempt, baseMs, capMs, random);
        if (spec.method === 'POST' && mayHaveReachedGitLab(error)) {
          throw transientError(
            spec,
            codeForFailure(error),
            `${error.message}; GitLab may have done it, so it is not sent again here`,
            attempt,
            wait,
            error,
          );
        }
        if (attempt >= attempts) {
          throw transientError(spec, codeForFailure(error), error.message, attempt, wait, error);
        }
        logger.warn('gitlab request failed, retrying', {
          method: spec.method,
          path: spec.path,
          failure: error.kind,
          code: error.code,
          attempt,
          waitMs: wait,
        });
        await sleep(wait);
        continue;
      }

      if (result.status >= 200 && result.status < 300) return respond(result, spec);
      if (result.status === 404 && spec.allowNotFound === true) return respond(result, spec);
      if (result.status === 401) {
        const renewed = refreshed ? undefined : await renewToken(token);
        if (renewed !== undefined) {
          refreshed = true;
          token = renewed;
          attempt--; // the refresh is not a retry of a failure
          logger.warn('gitlab rejected the token, retrying with a re-read secret', {
            method: spec.method,
            path: spec.path,
          });
          continue;
        }
        throw unauthorizedError(spec, refreshed && mayRenewToken);
      }
      if (!RETRYABLE_STATUSES.has(result.status)) throw permanentFor(spec, result);

      const retryAfter = parseRetryAfter(result.headers['retry-after'], Date.now());
      const code = codeForStatus(result.status);
      const reason = `GitLab answered ${result.status}${retryAfter === undefined ? '' : ` (Retry-After ${Math.ceil(retryAfter / 1000)} s)`}`;
      const wait = retryAfter ?? fullJitterDelay(attempt, baseMs, capMs, random);
      // A gateway that gave up (502, 504) says nothing about whether GitLab behind it finished a
      // POST: the same unknown outcome as our own timeout, so it is not sent again here either.
      const unknownOutcome = spec.method === 'POST' && GATEWAY_STATUSES.has(result.status);
      // A long Retry-After is the queue's to wait out, not this invocation's.
      if (
        unknownOutcome ||
        attempt >= attempts ||
        (retryAfter !== undefined && retryAfter > maxRetryAfterMs)
      ) {
        throw transientError(spec, code, reason, attempt, wait);
      }
      logger.warn('gitlab request failed, retrying', {
        method: spec.method,
        path: spec.path,
        status: result.status,
        attempt,
        waitMs: wait,
      });
      await sleep(wait);
    }
  };

  const upload = async (spec: UploadCall): Promise<ApiResponse> => {
    const url = urlFor(spec.path);
    const framing = multipartFraming(spec.field, spec.filename, spec.contentType);
    const token = await currentToken();
    for (let attempt = 1; ; attempt++) {
      let result: HttpResult;
      try {
        result = await exchange({
          method: 'POST',
          url,
          headers: headersFor(token, { 'content-type': framing.contentType }),
          body: { head: framing.head, content: spec.content, tail: framing.tail, size: spec.size },
          // A fresh connection: a stale keep-alive socket reset mid-body would waste the stream.
          agent: false,
          connectTimeoutMs,
          totalTimeoutMs: uploadTimeoutMs,
          idleTimeoutMs: timeoutMs,
          maxResponseBytes: GITLAB_DEFAULTS.maxResponseBytes,
        });
      } catch (error) {
        if (!(error instanceof TransportFailure)) throw error;
        if (error.kind === 'tls') throw tlsError(spec, error);
        if (error.kind === 'source') throw error.cause ?? error;
        const wait = fullJitterDelay(attempt, baseMs, capMs, random);
        // The content is a single-use stream: once bytes left it, only the whole mail can retry.
        if (error.bodyStarted || attempt >= attempts || error.kind === 'too_large') {
          const reason = error.bodyStarted ? `${error.message} (after the upload started)` : error.message;
          throw transientError(spec, codeForFailure(error), reason, attempt, wait, error);
        }
        logger.warn('gitlab upload could not start, retrying', {
          path: spec.path,
          failure: error.kind,
          code: error.code,
          attempt,
          waitMs: wait,
        });
        await sleep(wait);
        continue;
      }

      if (result.status >= 200 && result.status < 300) return respond(result, { ...spec, method: 'POST' });
      if (result.status === 401) {
        // The stream is spent: learn whether a renewed token works, and let the queue retry.
        if ((await renewToken(token)) === undefined) throw unauthorizedError(spec, false);
        if (await probeToken()) throw tokenRefreshedError(spec);
        throw unauthorizedError(spec, true);
      }
      if (RETRYABLE_STATUSES.has(result.status)) {
        const retryAfter = parseRetryAfter(result.headers['retry-after'], Date.now());
        throw transientError(
          spec,
          codeForStatus(result.status),
          `GitLab answered ${result.status} to the upload`,
          attempt,
          retryAfter ?? fullJitterDelay(attempt, baseMs, capMs, random),
        );
      }
      throw permanentFor(spec, result);
    }
  };

  /** True when the (re-read) token authenticates; used after a 401 on a spent upload stream. */
  const probeToken = async (): Promise<boolean> => {
    try {
      await send({ method: 'GET', path: '/user', what: 'check the re-read bot token' }, false);
      return true;
    } catch (error) {
      if (error instanceof PostdeskError && error.code === 'forge_unauthorized') return false;
      throw error;
    }
  };

  return { baseUrl, call, upload };
};

const parseBaseUrl = (text: string): URL => {
  let url: URL;
  try {
    url = new URL(text);
  } catch (error) {
    throw new PermanentError('forge_config', `forge.url is not a URL: ${JSON.stringify(text)}.`, {
      cause: error,
    });
  }
  if (url.protocol !== 'https:' && url.protocol !== 'http:') {
    throw new PermanentError('forge_config', `forge.url must be an http(s) URL, not ${url.protocol}.`);
  }
  if (url.username !== '' || url.password !== '') {
    throw new PermanentError(
      'forge_config',
      'forge.url must not carry credentials: the bot token belongs in the desk secret.',
    );
  }
  return new URL(`${url.origin}${url.pathname.replace(/\/+$/, '')}`);
};

/**
 * GitLab's error text: `{"message": "404 Project Not Found"}`, `{"message": {"title": ["is too
 * long"]}}`, `{"error": "insufficient_scope", "error_description": "..."}` or plain text.
 */
export const remoteMessage = (body: Buffer): string => {
  const text = body.toString('utf8').trim();
  if (text === '') return '';
  try {
    const parsed: unknown = JSON.parse(text);
    if (typeof parsed === 'object' && parsed !== null) {
      const record = parsed as Record<string, unknown>;
      const error = record['error'];
      const description = record['error_description'];
      // OAuth-style: `insufficient_scope` plus a description (and the scope needed).
      const message =
        typeof error === 'string' && typeof description === 'string'
          ? `${error}: ${description}`
          : (record['message'] ?? description ?? error);
      if (typeof message === 'string') {
        const scope = typeof record['scope'] === 'string' ? ` (scope needed: ${record['scope']})` : '';
        return `${message}${scope}`;
      }
      if (message !== undefined) return JSON.stringify(message);
    }
  } catch {
    // not JSON: fall through to the text itself
  }
  return text.replace(/\s+/g, ' ');
};
