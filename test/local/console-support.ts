import http from 'node:http';
import { type LocalDeskHandle, startLocalDesk } from '../../cli/commands/serve.ts';
import { demoConfig } from '../../cli/demo-config.ts';
import { noDns } from './support.ts';

/** Helpers for tests of the local console: the demo desk on free ports, and raw HTTP requests. */

export const DEMO_ADDRESS = 'support+demo@desk.localhost';

/** The demo desk exactly as `npm start` runs it with no config, on free ports, DNS off. */
export const startDemoDesk = (dataDir: string): Promise<LocalDeskHandle> =>
  startLocalDesk({
    config: demoConfig(),
    dataDir,
    env: {},
    port: 0,
    webhookPort: 0,
    resolver: noDns,
  });

export interface RawResponse {
  status: number;
  headers: http.IncomingHttpHeaders;
  body: Buffer;
  text: string;
}

/** An HTTP request with full control of the headers (Host included), as a browser or an attacker sends. */
export const request = (
  url: string,
  options: { method?: string; headers?: Record<string, string>; body?: string } = {},
): Promise<RawResponse> =>
  new Promise((resolve, reject) => {
    const req = http.request(url, { method: options.method ?? 'GET', headers: options.headers }, (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (chunk: Buffer) => chunks.push(chunk));
      res.on('end', () => {
        const body = Buffer.concat(chunks);
        resolve({ status: res.statusCode ?? 0, headers: res.headers, body, text: body.toString('utf8') });
      });
      res.on('error', reject);
    });
    req.on('error', reject);
    if (options.body !== undefined) req.write(options.body);
    req.end();
  });

/** The CSRF token of a console page's first form. */
export const csrfOf = (page: string): string => {
  const match = /name="csrf" value="([^"]+)"/.exec(page);
  if (!match?.[1]) throw new Error('no CSRF token on the page');
  return match[1];
};

export const form = (fields: Record<string, string>): string => new URLSearchParams(fields).toString();

export const FORM = { 'content-type': 'application/x-www-form-urlencoded' };
