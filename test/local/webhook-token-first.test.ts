import { connect } from 'node:net';
import { afterEach, describe, expect, it } from 'vitest';
import type { LocalDeskHandle } from '../../cli/commands/serve.ts';
import { startDemoDesk } from './console-support.ts';
import { tempDir } from './support.ts';

const open: LocalDeskHandle[] = [];
afterEach(async () => {
  await Promise.all(open.splice(0).map((desk) => desk.close()));
});

/** Sends only the head of a POST that announces a body, and resolves with the first answer line. */
const headOnly = (port: number, headers: string[]): Promise<string> =>
  new Promise((resolve, reject) => {
    const socket = connect(port, '127.0.0.1');
    let answer = '';
    socket.setEncoding('utf8');
    socket.on('data', (chunk: string) => {
      answer += chunk;
      if (answer.includes('\r\n')) {
        socket.destroy();
        resolve(answer.split('\r\n')[0] ?? '');
      }
    });
    socket.on('error', reject);
    socket.write(
      [
        `POST / HTTP/1.1`,
        `Host: 127.0.0.1:${port}`,
        'Content-Type: application/json',
        ...headers,
        '',
        '',
      ].join('\r\n'),
    );
  });

describe('the local webhook listener', () => {
  it('webhook-token-before-body: a POST without the token is refused before its body is read', async () => {
    // Prepare: the body is announced (900 KB, under the 1 MiB cap) and never sent.
    const desk = await startDemoDesk(await tempDir('token-first'));
    open.push(desk);
    // Act
    const missing = await headOnly(desk.webhookPort, ['X-Gitlab-Event: Note Hook', 'Content-Length: 900000']);
    const wrong = await headOnly(desk.webhookPort, [
      'X-Gitlab-Event: Note Hook',
      'X-Gitlab-Token: not-the-token',
      'Content-Length: 900000',
    ]);
    // Assess: answered at once; before, the listener waited for 900 KB that never came.
    expect(missing).toBe('HTTP/1.1 401 Unauthorized');
    expect(wrong).toBe('HTTP/1.1 401 Unauthorized');
  });
});
