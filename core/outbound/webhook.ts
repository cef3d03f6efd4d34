import { createHash, timingSafeEqual } from 'node:crypto';
import type { DeskConfig } from '../config/schema.ts';
import { errorMessage } from '../errors.ts';
import type { Clock, Logger, SecretSource } from '../ports.ts';
import type { DeskState } from '../state/index.ts';
import { MAX_WEBHOOK_BODY_BYTES } from './constants.ts';
import {
  decideNoteHook,
  IssueHookSchema,
  NoteHookSchema,
  projectByKey,
  SkipReason,
  screenNoteHook,
} from './decide.ts';
import type { NotifyQueue } from './jobs.ts';
import { parseUnsubscribeToken, verifyUnsubscribeToken } from './unsubscribe.ts';

/**
 * The HTTP core shared by the Lambda Function URL handler (functions/webhook) and the local
 * loopback server (adapters/local/webhook-server.ts): a plain request in, a plain response out.
 *
 *     POST <any path>              GitLab webhook (X-Gitlab-Token checked), queues notifications
 *     GET  /unsubscribe/<token>    a confirmation page with one button (changes nothing)
 *     POST /unsubscribe/<token>    unsubscribes (the button, and RFC 8058 one-click from the client)
 *
 * GET never unsubscribes: mail security scanners and link previewers fetch every link in a mail,
 * which would unsubscribe customers who never clicked (the reason RFC 8058 one-click is a POST).
 */

export interface WebhookRequest {
  method: string;
  /** The path without the query string, e.g. `/unsubscribe/u-game-42-0-...`. */
  path: string;
  /** Header names lowercased. */
  headers: Readonly<Record<string, string | undefined>>;
  body: Buffer;
}

export interface WebhookResponse {
  status: number;
  headers: Record<string, string>;
  body: string;
}

export interface WebhookDeps {
  config: DeskConfig;
  secrets: SecretSource;
  /** The desk's state: tickets (who may be mailed) and the outbound state (unsubscribes). */
  state: Pick<DeskState, 'tickets' | 'outbound'>;
  queue: NotifyQueue;
  logger: Logger;
  clock: Clock;
  /** @default MAX_WEBHOOK_BODY_BYTES (1 MiB) */
  maxBodyBytes?: number | undefined;
  /**
   * After a token mismatch the secret is re-read (it may have been rotated), at most this often.
   * @default 60000
   */
  refreshIntervalMs?: number | undefined;
}

const json = (status: number, body: Record<string, unknown>): WebhookResponse => ({
  status,
  headers: { 'content-type': 'application/json; charset=utf-8', 'cache-control': 'no-store' },
  body: JSON.stringify(body),
});

const page = (
  status: number,
  title: string,
  paragraphs: readonly string[],
  form?: string,
): WebhookResponse => ({
  status,
  headers: {
    'content-type': 'text/html; charset=utf-8',
    'cache-control': 'no-store',
    'x-robots-tag': 'noindex',
    'referrer-policy': 'no-referrer',
    'content-security-policy': "default-src 'none'; style-src 'unsafe-inline'; form-action 'self'",
  },
  body: [
    '<!DOCTYPE html><html><head><meta charset="utf-8"><meta name="viewport" content="width=device-width">',
    `<title>${title}</title></head>`,
    '<body style="font-family:sans-serif;max-width:36em;margin:3em auto;padding:0 1em;line-height:1.5">',
    `<h1 style="font-size:1.4em">${title}</h1>`,
    ...paragraphs.map((text) => `<p>${text}</p>`),
    form ?? '',
    '</body></html>',
  ].join('\n'),
});

const notAllowed = (allow: string): WebhookResponse => {
  const response = json(405, { error: 'method not allowed' });
  return { ...response, headers: { ...response.headers, allow } };
};

/** SHA-256 of both sides, then timingSafeEqual: equal lengths whatever was sent, no early exit. */
export const tokensMatch = (given: string, expected: string): boolean => {
  const a = createHash('sha256').update(given, 'utf8').digest();
  const b = createHash('sha256').update(expected, 'utf8').digest();
  return timingSafeEqual(a, b);
};

const UNSUBSCRIBE_PATH = /^\/unsubscribe\/([^/]{1,100})\/?$/;

export const createWebhookHandler = (deps: WebhookDeps) => {
  const { clock } = deps;
  const maxBody = deps.maxBodyBytes ?? MAX_WEBHOOK_BODY_BYTES;
  const refreshInterval = deps.refreshIntervalMs ?? 60_000;
  const { tickets, outbound: outboundState } = deps.state;
  let lastRefresh = Number.NEGATIVE_INFINITY;

  /** 'ok', 'missing' (no token configured), or 'wrong'. Re-reads a rotated secret once a minute at most. */
  const checkToken = async (given: string | undefined): Promise<'ok' | 'missing' | 'wrong'> => {
    let expected = (await deps.secrets.get()).webhook_token;
    if (given !== undefined && expected !== undefined && expected !== '' && tokensMatch(given, expected))
      return 'ok';
    const now = clock.now().getTime();
    if (now - lastRefresh >= refreshInterval) {
      lastRefresh = now;
      expected = (await deps.secrets.refresh()).webhook_token;
      if (given !== undefined && expected !== undefined && expected !== '' && tokensMatch(given, expected))
        return 'ok';
    }
    return expected === undefined || expected === '' ? 'missing' : 'wrong';
  };

  /** 401 (and the log line that says why) unless the request carries the desk's webhook token. */
  const refusedToken = async (
    request: Omit<WebhookRequest, 'body'>,
  ): Promise<WebhookResponse | undefined> => {
    const event = request.headers['x-gitlab-event'];
    const verdict = await checkToken(request.headers['x-gitlab-token']);
    if (verdict === 'missing') {
      deps.logger.error(
        'webhook refused: the desk secret has no webhook_token. Write one (a long random string) with ' +
          '`postdesk secret edit`, and put the same value in the GitLab webhook\'s "Secret token" field',
        { event },
      );
      return json(401, { error: 'unauthorized' });
    }
    if (verdict === 'wrong') {
      deps.logger.warn('webhook refused: X-Gitlab-Token missing or wrong', {
        event,
        tokenPresent: request.headers['x-gitlab-token'] !== undefined,
      });
      return json(401, { error: 'unauthorized' });
    }
    return undefined;
  };

  const handleGitLab = async (request: WebhookRequest): Promise<WebhookResponse> => {
    const event = request.headers['x-gitlab-event'];
    const refused = await refusedToken(request);
    if (refused) return refused;
    if (request.body.length > maxBody) {
      deps.logger.warn('webhook refused: body too large', {
        event,
        bytes: request.body.length,
        limit: maxBody,
      });
      return json(413, { error: 'payload too large', limitBytes: maxBody });
    }

    let payload: unknown;
    try {
      payload = JSON.parse(request.body.toString('utf8'));
    } catch {
      return json(400, { error: 'the body is not JSON' });
    }
    const kind =
      typeof payload === 'object' && payload !== null && 'object_kind' in payload
        ? payload.object_kind
        : undefined;

    if (kind === 'note') {
      const parsed = NoteHookSchema.safeParse(payload);
      if (!parsed.success) return invalid(event, parsed.error.issues);
      const note = parsed.data;
      // The cheap checks first: most notes (internal, system, bot) need no state read at all.
      const screened = screenNoteHook(note, deps.config);
      if (!('ok' in screened))
        return ignored(screened.reason, screened.message, note.project.path_with_namespace);
      const [ticket, state] = await Promise.all([
        tickets.get(screened.project.path, screened.iid),
        outboundState.get(screened.project.path, screened.iid),
      ]);
      const decision = decideNoteHook(note, deps.config, ticket, state);
      if (!decision.send) return ignored(decision.reason, decision.message, note.project.path_with_namespace);
      await deps.queue.enqueue(decision.jobs);
      deps.logger.info('webhook: notifications queued', {
        project: decision.project.path,
        iid: screened.iid,
        noteId: note.object_attributes.id,
        queued: decision.jobs.length,
      });
      return json(200, { queued: decision.jobs.length });
    }
    if (kind === 'issue' || kind === 'work_item') {
      const parsed = IssueHookSchema.safeParse(payload);
      if (!parsed.success) return invalid(event, parsed.error.issues);
      // GitLab sends external participants no status mail (gitlab-service-desk.md §5.4).
      return json(200, { queued: 0, ignored: SkipReason.issueEvent });
    }
    return json(200, { queued: 0, ignored: `event ${typeof kind === 'string' ? kind : 'unknown'}` });
  };

  const invalid = (
    event: string | undefined,
    issues: readonly { path: PropertyKey[]; message: string }[],
  ) => {
    const problems = issues
      .slice(0, 5)
      .map((issue) => `${issue.path.map(String).join('.') || '(root)'}: ${issue.message}`);
    deps.logger.warn('webhook payload does not match the expected shape', { event, problems });
    return json(400, { error: 'unexpected payload', problems });
  };

  const ignored = (reason: string, message: string, project: string): WebhookResponse => {
    deps.logger.info('webhook: nothing to send', { project, reason, message });
    return json(200, { queued: 0, ignored: reason });
  };

  const invalidLink = (): WebhookResponse =>
    page(404, 'This link is not valid', [
      'The unsubscribe link is incomplete or was not issued by this support desk.',
      'If you copied it from an email, make sure you copied all of it.',
    ]);

  const handleUnsubscribe = async (request: WebhookRequest, token: string): Promise<WebhookResponse> => {
    const parsed = parseUnsubscribeToken(token);
    const project = parsed ? projectByKey(deps.config, parsed.projectKey) : undefined;
    const replyKey = (await deps.secrets.get()).reply_key;
    if (!parsed || !project || !replyKey) return invalidLink();
    const ticket = await tickets.get(project.path, parsed.issueIid);
    const participant = ticket?.participants[parsed.participantIndex];
    // Always compute the MAC, so an unknown ticket answers as fast as a wrong signature.
    const valid = verifyUnsubscribeToken(replyKey, parsed, project.path, participant?.address ?? '');
    if (!ticket || !participant || !valid) return invalidLink();

    if (request.method === 'GET' || request.method === 'HEAD') {
      return page(
        200,
        'Unsubscribe from this ticket?',
        [`You will no longer receive emails about support ticket #${parsed.issueIid}.`],
        '<form method="post"><button type="submit" style="font-size:1em;padding:.5em 1.2em">Unsubscribe</button></form>',
      );
    }
    const changed = await outboundState.unsubscribe(project.path, parsed.issueIid, participant.address);
    deps.logger.info('participant unsubscribed', {
      project: project.path,
      iid: parsed.issueIid,
      participantIndex: parsed.participantIndex,
      already: !changed,
    });
    return page(200, 'You are unsubscribed', [
      `You will no longer receive emails about support ticket #${parsed.issueIid}.`,
      'If you reply to one of our emails, your message still reaches the team.',
    ]);
  };

  /**
   * The token check alone, on the headers: a listener that reads the body itself calls this first,
   * so a caller without the token is answered 401 before a byte of its body is read. Undefined
   * when the request may go on (an unsubscribe link, or the right token).
   */
  const screen = async (request: Omit<WebhookRequest, 'body'>): Promise<WebhookResponse | undefined> => {
    if (UNSUBSCRIBE_PATH.test(request.path) || request.method.toUpperCase() !== 'POST') return undefined;
    try {
      return await refusedToken(request);
    } catch (error) {
      deps.logger.error('webhook request failed', { path: request.path, error: errorMessage(error) });
      return json(503, { error: 'temporarily unavailable' });
    }
  };

  const handleWebhookRequest = async (request: WebhookRequest): Promise<WebhookResponse> => {
    const method = request.method.toUpperCase();
    try {
      const unsubscribe = UNSUBSCRIBE_PATH.exec(request.path);
      if (unsubscribe?.[1]) {
        if (method !== 'GET' && method !== 'HEAD' && method !== 'POST') {
          return notAllowed('GET, POST');
        }
        return await handleUnsubscribe({ ...request, method }, unsubscribe[1]);
      }
      if (method !== 'POST') return notAllowed('POST');
      return await handleGitLab(request);
    } catch (error) {
      // A store or queue outage: 5xx tells GitLab to retry later, and says nothing more.
      deps.logger.error('webhook request failed', { path: request.path, error: errorMessage(error) });
      return json(503, { error: 'temporarily unavailable' });
    }
  };
  return Object.assign(handleWebhookRequest, { screen });
};

export type WebhookHandler = ReturnType<typeof createWebhookHandler>;
