import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { MAX_WEBHOOK_BODY_BYTES } from '../../core/outbound/constants.ts';
import type { WebhookRequest, WebhookResponse } from '../../core/outbound/webhook.ts';

/**
 * The webhook endpoint in local mode: a node:http listener on the loopback interface that turns each
 * request into a `WebhookRequest` and hands it to the same core as the Lambda Function URL
 * (`createWebhookHandler` in core/outbound/webhook.ts). Point a GitLab webhook (or `curl`) at it:
 *
 *     const server = await startWebhookServer({ port: 8025, handle: createWebhookHandler(deps) });
 *     // POST http://127.0.0.1:8025/  with X-Gitlab-Token
 *     await server.close();
 *
 * The body is read up to the cap and no further: a larger one is answered 413 without being held
 * in memory, before the handler runs.
 */

export interface WebhookServerOptions {
  /** @default '127.0.0.1' */
  host?: string | undefined;
  /** 0 picks a free port. */
  port: number;
  handle: (request: WebhookRequest) => Promise<WebhookResponse>;
  /**
   * Answers first, on the same listener (the local console): a response, or undefined to leave the
   * request to `handle`.
   */
  before?: ((request: WebhookRequest) => Promise<LocalHttpResponse | undefined>) | undefined;
  /**
   * Runs on the headers, before the body is read: a response here (401 for a missing or wrong
   * token) is sent without reading the body at all.
   */
  screen?: ((request: Omit<WebhookRequest, 'body'>) => Promise<LocalHttpResponse | undefined>) | undefined;
  /** @default MAX_WEBHOOK_BODY_BYTES (1 MiB) */
  maxBodyBytes?: number | undefined;
}

export interface WebhookServer {
  /** `http://127.0.0.1:<port>` */
  readonly url: string;
  readonly port: number;
  close(): Promise<void>;
}

/** A response of the listener: the webhook's, or the console's, whose bodies may be bytes. */
export interface LocalHttpResponse {
  status: number;
  headers: Record<string, string>;
  body: string | Buffer;
}

class BodyTooLarge extends Error {
  constructor() {
    super('body too large');
    this.name = 'BodyTooLarge';
  }
}

const readBody = (request: http.IncomingMessage, limit: number): Promise<Buffer> =>
  new Promise((resolve, reject) => {
    const declared = Number(request.headers['content-length']);
    if (Number.isFinite(declared) && declared > limit) {
      reject(new BodyTooLarge());
      return;
    }
    const chunks: Buffer[] = [];
    let size = 0;
    request.on('data', (chunk: Buffer) => {
      size += chunk.length;
      if (size > limit) {
        reject(new BodyTooLarge());
        request.pause();
        return;
      }
      chunks.push(chunk);
    });
    request.on('end', () => resolve(Buffer.concat(chunks)));
    request.on('error', reject);
  });

const headersOf = (request: http.IncomingMessage): Record<string, string | undefined> => {
  const headers: Record<string, string | undefined> = {};
  for (const [name, value] of Object.entries(request.headers)) {
    headers[name.toLowerCase()] = Array.isArray(value) ? value.join(', ') : value;
  }
  return headers;
};

const send = (response: http.ServerResponse, result: LocalHttpResponse): void => {
  response.writeHead(result.status, { ...result.headers, 'content-length': Buffer.byteLength(result.body) });
  response.end(result.body);
};

export const startWebhookServer = async (options: WebhookServerOptions): Promise<WebhookServer> => {
  const host = options.host ?? '127.0.0.1';
  const limit = options.maxBodyBytes ?? MAX_WEBHOOK_BODY_BYTES;

  const server = http.createServer(async function serveWebhook(request, response) {
    try {
      const head = {
        method: request.method ?? 'GET',
        path: new URL(request.url ?? '/', 'http://localhost').pathname,
        headers: headersOf(request),
      };
      const refused = await options.screen?.(head);
      if (refused !== undefined) {
        // The body is never read: close the connection rather than drain what the caller sends.
        response.setHeader('connection', 'close');
        send(response, refused);
        request.resume();
        return;
      }
      let body: Buffer;
      try {
        body = await readBody(request, limit);
      } catch (error) {
        if (error instanceof BodyTooLarge) {
          response.setHeader('connection', 'close');
          send(response, {
            status: 413,
            headers: { 'content-type': 'application/json; charset=utf-8' },
            body: JSON.stringify({ error: 'payload too large', limitBytes: limit }),
          });
          return;
        }
        throw error;
      }
      const plain: WebhookRequest = { ...head, body };
      const result = (await options.before?.(plain)) ?? (await options.handle(plain));
      send(response, request.method === 'HEAD' ? { ...result, body: '' } : result);
    } catch {
      if (!response.headersSent) {
        send(response, {
          status: 500,
          headers: { 'content-type': 'application/json; charset=utf-8' },
          body: JSON.stringify({ error: 'internal error' }),
        });
      } else {
        response.destroy();
      }
    }
  });
  server.requestTimeout = 30_000;
  server.headersTimeout = 10_000;

  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(options.port, host, () => {
      server.off('error', reject);
      resolve();
    });
  });
  const { port } = server.address() as AddressInfo;
  const shownHost = host.includes(':') ? `[${host}]` : host;
  return {
    url: `http://${shownHost}:${port}`,
    port,
    close: () =>
      new Promise<void>((resolve, reject) => {
        server.close((error) => (error ? reject(error) : resolve()));
        server.closeAllConnections();
      }),
  };
};
