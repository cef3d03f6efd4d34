import { PermanentError, TransientError } from '../../../core/errors.ts';
import type { TransportFailure } from './http.ts';

/**
 * Every error the GitLab adapter throws, built here so their codes and wording stay together.
 * Messages name the project and say what to fix; none carries the token (the caller redacts the
 * only remote text we quote, GitLab's own `message`).
 */

/** What the adapter was doing, for messages: `create an issue` in `acme/game`. */
export interface CallContext {
  what: string;
  project?: string | undefined;
}

const where = (context: CallContext): string =>
  context.project === undefined ? '' : ` in project ${context.project}`;

export const unauthorizedError = (context: CallContext, refreshed: boolean): PermanentError =>
  new PermanentError(
    'forge_unauthorized',
    `GitLab rejected the bot token (401) when trying to ${context.what}${where(context)}` +
      `${refreshed ? ', also after re-reading the desk secret' : ''}: the token is invalid, expired or ` +
      'revoked. Create a new token for the bot user with the `api` scope and write it into the desk ' +
      'secret with `postdesk secret write` (forge_token).',
  );

export const missingTokenError = (): PermanentError =>
  new PermanentError(
    'forge_unauthorized',
    'The desk secret has no forge_token: create a token for the bot user with the `api` scope and ' +
      'write it with `postdesk secret write`.',
  );

export const tokenRefreshedError = (context: CallContext): TransientError =>
  new TransientError(
    'forge_token_refreshed',
    `GitLab rejected the bot token (401) while uploading a file${where(context)}; a new token was read ` +
      'from the desk secret and works, but the upload stream cannot be sent twice: the mail will be retried.',
    { retryAfterMs: 0 },
  );

export const forbiddenError = (context: CallContext, detail: string, hint?: string): PermanentError =>
  new PermanentError(
    'forge_forbidden',
    `GitLab refused to ${context.what}${where(context)} (403${detail === '' ? '' : `: ${detail}`}): ` +
      (hint ??
        'the bot token needs the `api` scope, and the bot user needs the Reporter role on the project ' +
          '(Developer if it should reopen issues it did not open).'),
  );

export const notFoundError = (context: CallContext, detail: string): PermanentError => {
  const projectMissing = /project not found/i.test(detail) || context.project === undefined;
  const subject = context.project === undefined ? 'the resource' : `project ${context.project}`;
  return new PermanentError(
    'forge_not_found',
    projectMissing
      ? `GitLab found no ${subject} (404) when trying to ${context.what}: check projects[].path in the ` +
          'config (the full path, e.g. acme/game) and that the bot user is a member of the project ' +
          '(GitLab answers 404, not 403, to non-members of a private project).'
      : `GitLab answered 404 (${detail}) when trying to ${context.what}${where(context)}: the issue may ` +
          'have been deleted or moved; check projects[].path in the config and the bot user’s membership.',
  );
};

export const tooLargeError = (context: CallContext, detail: string): PermanentError =>
  new PermanentError(
    'forge_too_large',
    `GitLab refused to ${context.what}${where(context)} as too large (413${detail === '' ? '' : `: ${detail}`}): ` +
      'raise the instance’s maximum attachment size, or lower limits.max_attachment_bytes in the config.',
  );

export const rejectedError = (context: CallContext, status: number, detail: string): PermanentError =>
  new PermanentError(
    'forge_rejected',
    `GitLab rejected the request to ${context.what}${where(context)} (${status}${detail === '' ? '' : `: ${detail}`}).`,
  );

/**
 * A 2xx answer Postdesk cannot use: not JSON, or JSON without the fields it reads (`problems` names
 * each field path and what was expected). Retrying does not change what GitLab answers; the message
 * names the endpoint so a person can compare it with the API docs, or find the proxy in between.
 */
export const badResponseError = (
  context: CallContext,
  answer: { endpoint: string; status: number },
  problems: string,
  cause?: unknown,
): PermanentError =>
  new PermanentError(
    'forge_bad_response',
    `GitLab's ${answer.status} answer to ${answer.endpoint}, to ${context.what}${where(context)}, is not ` +
      `what Postdesk expects: ${problems}. Check that forge.url points at GitLab itself (REST API v4), ` +
      'not at a proxy or a login page.',
    cause === undefined ? undefined : { cause },
  );

export const tlsError = (context: CallContext, failure: TransportFailure): PermanentError =>
  new PermanentError(
    'forge_tls',
    `Could not ${context.what}${where(context)}: the TLS connection to GitLab failed (${failure.message}). ` +
      'Check forge.url and the instance’s certificate (NODE_EXTRA_CA_CERTS for a private CA).',
    { cause: failure },
  );

export const transientCode = {
  timeout: 'forge_timeout',
  rateLimited: 'forge_rate_limited',
  unavailable: 'forge_unavailable',
} as const;
export type TransientCode = (typeof transientCode)[keyof typeof transientCode];

export const transientError = (
  context: CallContext,
  code: TransientCode,
  reason: string,
  attempts: number,
  retryAfterMs: number | undefined,
  cause?: unknown,
): TransientError => {
  const tries = attempts === 1 ? 'in 1 attempt' : `in ${attempts} attempts`;
  const options: { cause?: unknown; retryAfterMs?: number } = {};
  if (cause !== undefined) options.cause = cause;
  if (retryAfterMs !== undefined) options.retryAfterMs = retryAfterMs;
  return new TransientError(
    code,
    `Could not ${context.what}${where(context)} ${tries}: ${reason}. The mail will be retried later.`,
    options,
  );
};
