import http from 'node:http';
import https from 'node:https';
import type { Readable } from 'node:stream';

/**
 * One HTTP exchange over node:http/https, with a connect timeout, a total timeout and, for
 * streamed bodies, an inactivity timeout. No retries and no policy here: `client.ts` holds those.
 * node:http rather than fetch because the upload body must be streamed with its multipart framing
 * written around it, and because we need to know whether a single-use stream was touched.
 */

export interface StreamedBody {
  head: Buffer;
  content: Readable;
  tail: Buffer;
  /** Exact content size when known: lets us send Content-Length instead of chunked encoding. */
  size: number | undefined;
}

export interface HttpExchange {
  method: 'GET' | 'POST' | 'PUT';
  url: URL;
  headers: Record<string, string>;
  body?: Buffer | StreamedBody | undefined;
  agent: http.Agent | false;
  connectTimeoutMs: number;
  /** Deadline for the whole exchange. */
  totalTimeoutMs: number;
  /** Longest silence on the socket (streamed bodies). */
  idleTimeoutMs?: number | undefined;
  maxResponseBytes: number;
}

export interface HttpResult {
  status: number;
  headers: http.IncomingHttpHeaders;
  body: Buffer;
}

export const TransportFailureKind = ['timeout', 'network', 'tls', 'too_large', 'source'] as const;
export type TransportFailureKind = (typeof TransportFailureKind)[number];

/** Where an exchange was when it failed: whether the server can have seen the request. */
export interface TransportProgress {
  /** The socket was connected, so the request's bytes may have reached the server. */
  requestSent: boolean;
}

const NOT_SENT: TransportProgress = { requestSent: false };

/** The exchange failed before a complete response arrived. Never carries request headers. */
export class TransportFailure extends Error {
  readonly kind: TransportFailureKind;
  /** Bytes of a streamed body were consumed: the stream cannot be sent again. */
  readonly bodyStarted: boolean;
  /** The system error code (`ECONNRESET`…), when there is one. */
  readonly code: string | undefined;
  /** How far the exchange got; decides whether a non-idempotent request may be sent again. */
  readonly progress: TransportProgress;
  constructor(
    kind: TransportFailureKind,
    message: string,
    bodyStarted: boolean,
    cause?: unknown,
    progress: TransportProgress = NOT_SENT,
  ) {
    super(message, cause === undefined ? undefined : { cause });
    this.name = 'TransportFailure';
    this.kind = kind;
    this.bodyStarted = bodyStarted;
    this.code = codeOf(cause);
    this.progress = progress;
  }
}

const codeOf = (error: unknown): string | undefined => {
  if (typeof error !== 'object' || error === null || !('code' in error)) return undefined;
  return typeof error.code === 'string' ? error.code : undefined;
};

/** Certificate problems will not fix themselves: they are reported, not retried. */
const TLS_CODES = /^(CERT_|UNABLE_TO_|DEPTH_ZERO_|SELF_SIGNED_|ERR_TLS_CERT|ERR_SSL_|HOSTNAME_MISMATCH)/;

const isStreamed = (body: HttpExchange['body']): body is StreamedBody =>
  body !== undefined && !Buffer.isBuffer(body);

export const exchange = (spec: HttpExchange): Promise<HttpResult> =>
  new Promise<HttpResult>((resolve, reject) => {
    const transport = spec.url.protocol === 'https:' ? https : http;
    const body = spec.body;
    const headers: Record<string, string> = { ...spec.headers };
    if (Buffer.isBuffer(body)) headers['content-length'] = String(body.length);
    else if (isStreamed(body) && body.size !== undefined) {
      headers['content-length'] = String(body.head.length + body.size + body.tail.length);
    }

    let settled = false;
    let bodyStarted = false;
    let connected = false;
    let bodyDone = !isStreamed(body);
    const timers: NodeJS.Timeout[] = [];
    const clearTimers = (): void => {
      for (const timer of timers) clearTimeout(timer);
      timers.length = 0;
    };

    const request = transport.request(spec.url, { method: spec.method, headers, agent: spec.agent });

    const fail = (kind: TransportFailureKind, message: string, cause?: unknown): void => {
      if (settled) return;
      settled = true;
      clearTimers();
      if (isStreamed(body)) body.content.off('error', onSourceError);
      reject(new TransportFailure(kind, message, bodyStarted, cause, { requestSent: connected }));
      request.destroy();
      // A half-sent stream is useless now; destroying it (without an error, so no 'error' event
      // reaches an unprepared listener) releases whatever feeds it.
      if (isStreamed(body) && bodyStarted && !bodyDone) body.content.destroy();
    };
    // The caller's stream may fail before we read it (while we connect): report it, never let an
    // unheard 'error' event crash the process.
    const onSourceError = (error: Error): void =>
      fail('source', `the upload content could not be read: ${error.message}`, error);
    if (isStreamed(body)) body.content.once('error', onSourceError);
    const succeed = (result: HttpResult): void => {
      if (settled) return;
      settled = true;
      clearTimers();
      if (isStreamed(body)) body.content.off('error', onSourceError);
      resolve(result);
      // GitLab may answer (401, 413) before the whole body went out: stop sending it.
      if (!bodyDone) request.destroy();
    };

    timers.push(
      setTimeout(
        () => fail('timeout', `no complete answer within ${spec.totalTimeoutMs} ms`),
        spec.totalTimeoutMs,
      ),
      setTimeout(
        () => fail('timeout', `could not connect within ${spec.connectTimeoutMs} ms`),
        Math.min(spec.connectTimeoutMs, spec.totalTimeoutMs),
      ),
    );
    const connectTimer = timers[timers.length - 1];
    if (spec.idleTimeoutMs !== undefined) {
      const idle = spec.idleTimeoutMs;
      request.setTimeout(idle, () => fail('timeout', `no progress for ${idle} ms`));
    }

    request.on('error', (error) => {
      const code = codeOf(error) ?? '';
      const kind = TLS_CODES.test(code) ? 'tls' : 'network';
      fail(kind, `${code || error.name}: ${error.message}`, error);
    });

    request.on('response', (response) => {
      const chunks: Buffer[] = [];
      let size = 0;
      response.on('data', (chunk: Buffer) => {
        size += chunk.length;
        if (size > spec.maxResponseBytes) {
          fail('too_large', `the answer is larger than ${spec.maxResponseBytes} bytes`);
          return;
        }
        chunks.push(chunk);
      });
      response.on('end', () =>
        succeed({ status: response.statusCode ?? 0, headers: response.headers, body: Buffer.concat(chunks) }),
      );
      response.on('error', (error) => fail('network', `the answer was cut off: ${error.message}`, error));
      response.on('close', () => {
        if (!response.complete) fail('network', 'the answer was cut off');
      });
    });

    const onConnected = (): void => {
      connected = true;
      if (connectTimer !== undefined) clearTimeout(connectTimer);
      if (isStreamed(body)) void streamBody(body);
    };
    request.on('socket', (socket) => {
      // A reused keep-alive socket is already connected. For TLS, "connected" means after the
      // handshake, so a hung handshake counts against the connect timeout.
      if (!socket.connecting) onConnected();
      else socket.once(spec.url.protocol === 'https:' ? 'secureConnect' : 'connect', onConnected);
    });

    // Streamed bodies start only once the socket is up, so a refused or timed-out connection
    // leaves the single-use content untouched and the caller may safely try again.
    const streamBody = async (streamed: StreamedBody): Promise<void> => {
      bodyStarted = true;
      let sent = 0;
      try {
        if (!request.write(streamed.head)) await drained(request);
        for await (const chunk of streamed.content) {
          if (settled) return;
          const buffer = typeof chunk === 'string' ? Buffer.from(chunk) : (chunk as Buffer);
          sent += buffer.length;
          if (!request.write(buffer)) await drained(request);
        }
        if (settled) return;
        if (streamed.size !== undefined && sent !== streamed.size) {
          fail('source', `the upload had ${sent} bytes where ${streamed.size} were announced`);
          return;
        }
        bodyDone = true;
        request.end(streamed.tail);
      } catch (error) {
        fail('source', `the upload content could not be read: ${(error as Error).message}`, error);
      }
    };

    if (Buffer.isBuffer(body)) request.end(body);
    else if (body === undefined) request.end();
  });

/** Resolves on 'drain', or when the request is gone (its failure is reported elsewhere). */
const drained = (request: http.ClientRequest): Promise<void> =>
  new Promise((resolve) => {
    const done = (): void => {
      request.off('drain', done);
      request.off('close', done);
      resolve();
    };
    request.on('drain', done);
    request.on('close', done);
  });
