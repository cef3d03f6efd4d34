import { injectLambdaContext } from '@aws-lambda-powertools/logger/middleware';
import middy from '@middy/core';
import type { APIGatewayProxyEventV2, APIGatewayProxyStructuredResultV2, Context } from 'aws-lambda';
import { createLambdaLogger, type LambdaLogger } from '../../adapters/aws/logger.ts';
import { cachedOnce } from '../../core/cached-once.ts';
import { errorMessage } from '../../core/errors.ts';
import { MAX_WEBHOOK_BODY_BYTES } from '../../core/outbound/constants.ts';
import type { WebhookRequest, WebhookResponse } from '../../core/outbound/webhook.ts';
import { createWebhookWiring, type WebhookWiring } from './wiring.ts';

/**
 * The webhook function, behind a Lambda Function URL (payload format 2.0, the API Gateway v2
 * shape): GitLab's Note and Issue hooks, and the unsubscribe links. All decisions are in
 * core/outbound/webhook.ts, shared with the local server; this file only translates the event.
 *
 * The Function URL has no AWS authentication (GitLab cannot sign requests): the X-Gitlab-Token
 * check in the core is the gate, made in constant time before the body is even parsed.
 */

export interface WebhookFunctionOptions {
  logger: LambdaLogger;
  wiring: () => Promise<WebhookWiring>;
  /** @default 5 (middy's early timeout); 0 turns it off in tests. */
  timeoutEarlyInMillis?: number | undefined;
}

/** Function URL headers are lowercased already; the copy makes sure and drops undefined values. */
const headersOf = (event: APIGatewayProxyEventV2): Record<string, string> => {
  const headers: Record<string, string> = {};
  for (const [name, value] of Object.entries(event.headers ?? {})) {
    if (value !== undefined) headers[name.toLowerCase()] = value;
  }
  return headers;
};

/** The event as the core's request (a base64 body far over the cap is not decoded at all). */
export const toWebhookRequest = (event: APIGatewayProxyEventV2, maxBodyBytes: number): WebhookRequest => {
  const raw = event.body ?? '';
  // A base64 body longer than the cap could ever decode to is cut before decoding: the core sees
  // a body one byte over the limit and answers 413 after the token check, as for any large body.
  const decodedMax = Math.ceil(raw.length / 4) * 3;
  const body = event.isBase64Encoded
    ? decodedMax > maxBodyBytes * 2
      ? Buffer.alloc(maxBodyBytes + 1)
      : Buffer.from(raw, 'base64')
    : Buffer.from(raw, 'utf8');
  return {
    method: event.requestContext?.http?.method ?? 'GET',
    path: event.rawPath ?? event.requestContext?.http?.path ?? '/',
    headers: headersOf(event),
    body,
  };
};

const toResult = (response: WebhookResponse): APIGatewayProxyStructuredResultV2 => ({
  statusCode: response.status,
  headers: response.headers,
  body: response.body,
});

export const createWebhookFunction = (options: WebhookFunctionOptions) => {
  const { logger } = options;
  const getWiring = cachedOnce(options.wiring, (error: unknown) => {
    logger.error('cold start failed', { error: errorMessage(error) });
  });

  const handleEvent = async function handleEvent(
    event: APIGatewayProxyEventV2,
    _context: Context,
  ): Promise<APIGatewayProxyStructuredResultV2> {
    let wired: WebhookWiring;
    try {
      wired = await getWiring();
    } catch {
      // GitLab retries 5xx; the log line above says what is wrong.
      return {
        statusCode: 503,
        headers: { 'content-type': 'application/json' },
        body: '{"error":"unavailable"}',
      };
    }
    const maxBody = wired.deps.maxBodyBytes ?? MAX_WEBHOOK_BODY_BYTES;
    return toResult(await wired.handle(toWebhookRequest(event, maxBody)));
  };

  return middy<APIGatewayProxyEventV2, APIGatewayProxyStructuredResultV2>({
    timeoutEarlyInMillis: options.timeoutEarlyInMillis ?? 5,
  })
    .use(injectLambdaContext(logger.powertools, { resetKeys: true }))
    .handler(handleEvent);
};

const defaultLogger = createLambdaLogger({
  serviceName: process.env['POWERTOOLS_SERVICE_NAME'] ?? 'postdesk-webhook',
});

/** The Lambda entry point. */
export const handler = createWebhookFunction({
  logger: defaultLogger,
  wiring: () => createWebhookWiring({ env: process.env, logger: defaultLogger }),
});
