import { type ChildProcessByStdio, spawn } from 'node:child_process';
import { readFile } from 'node:fs/promises';
import { join, resolve } from 'node:path';
import type { Readable } from 'node:stream';
import { afterEach, describe, expect, it } from 'vitest';
import { main } from '../../cli/main.ts';
import { bufferIo } from '../support/cli-io.ts';
import { CUSTOMER, DESK, localConfigText, smtpClient, tempDir, tempWorkspace } from './support.ts';

/** `postdesk serve` as a person runs it: the real binary, real signals. */

const bin = resolve(import.meta.dirname, '../../cli/bin/postdesk.js');
const children: ChildProcessByStdio<null, Readable, Readable>[] = [];

afterEach(() => {
  for (const child of children.splice(0)) if (child.exitCode === null) child.kill('SIGKILL');
});

/** Collects stdout as JSON lines and resolves each wait when a matching line arrives. */
const jsonLines = (stream: Readable) => {
  const lines: Record<string, unknown>[] = [];
  const waiters: {
    match: (line: Record<string, unknown>) => boolean;
    resolve: (line: Record<string, unknown>) => void;
  }[] = [];
  let buffer = '';
  stream.setEncoding('utf8');
  stream.on('data', (chunk: string) => {
    buffer += chunk;
    for (;;) {
      const end = buffer.indexOf('\n');
      if (end === -1) break;
      const line = JSON.parse(buffer.slice(0, end)) as Record<string, unknown>;
      buffer = buffer.slice(end + 1);
      lines.push(line);
      for (const waiter of [...waiters]) {
        if (waiter.match(line)) {
          waiters.splice(waiters.indexOf(waiter), 1);
          waiter.resolve(line);
        }
      }
    }
  });
  return {
    lines,
    next: (event: string) =>
      new Promise<Record<string, unknown>>((resolveLine) => {
        const seen = lines.find((line) => line['event'] === event);
        if (seen) resolveLine(seen);
        else waiters.push({ match: (line) => line['event'] === event, resolve: resolveLine });
      }),
  };
};

const repo = resolve(import.meta.dirname, '../..');

/** `npm start`'s command from package.json, its script path made absolute so it runs from any folder. */
const startCommand = async (): Promise<string[]> => {
  const manifest = JSON.parse(await readFile(join(repo, 'package.json'), 'utf8')) as {
    scripts: { start: string };
  };
  const [node, script, ...args] = manifest.scripts.start.split(' ');
  expect(node).toBe('node');
  return [resolve(repo, script ?? ''), ...args];
};

describe('a fresh clone', () => {
  it('npm start serves the demo desk with no config and no secret; a mail becomes demo/support#1', async () => {
    // Prepare: a folder with nothing in it, and no config or data folder named in the environment.
    const cwd = await tempDir('fresh-clone');
    const { POSTDESK_DATA_DIR: _dataDir, POSTDESK_CONFIG: _config, ...env } = process.env;
    const child = spawn(
      process.execPath,
      [...(await startCommand()), '--port', '0', '--webhook-port', '0', '--dns', 'offline', '--json'],
      { cwd, env, stdio: ['ignore', 'pipe', 'pipe'] },
    );
    children.push(child);
    const out = jsonLines(child.stdout);
    // Act
    const listening = await out.next('listening');
    await smtpClient(Number(listening['smtpPort'])).sendMail({
      from: `Ada Lovelace <${CUSTOMER}>`,
      to: 'support+demo@desk.localhost',
      subject: 'My first ticket',
      text: 'Hello desk.',
    });
    const mail = await out.next('mail');
    const console = await fetch(String(listening['console']));
    child.kill('SIGTERM');
    // Assess
    expect(listening).toMatchObject({
      demoConfig: true,
      secretCreated: true,
      example: 'support+demo@desk.localhost',
    });
    expect(mail).toMatchObject({ outcome: 'issue', reason: 'issue_created' });
    const issue = await readFile(join(cwd, '.postdesk/forge/demo/support/issues/1.md'), 'utf8');
    expect(issue).toContain('title: My first ticket');
    expect(await console.text()).toContain('My first ticket');
  });
});

describe('postdesk serve (the command)', () => {
  it('prints where to send mail, one JSON line per mail, and stops cleanly on SIGTERM', async () => {
    // Prepare
    const cwd = await tempWorkspace('serve-command', localConfigText());
    const { POSTDESK_DATA_DIR: _dataDir, POSTDESK_CONFIG: _config, ...env } = process.env;
    const child = spawn(
      process.execPath,
      [bin, 'serve', '--port', '0', '--webhook-port', '0', '--dns', 'offline', '--json'],
      {
        cwd,
        env,
        stdio: ['ignore', 'pipe', 'pipe'],
      },
    );
    children.push(child);
    let stderr = '';
    child.stderr.on('data', (chunk: Buffer) => {
      stderr += chunk.toString();
    });
    const out = jsonLines(child.stdout);
    const exited = new Promise<number | null>((resolveExit) => child.on('exit', (code) => resolveExit(code)));
    // Act
    const listening = await out.next('listening');
    await smtpClient(Number(listening['smtpPort'])).sendMail({
      from: CUSTOMER,
      to: `support+game@${DESK}`,
      subject: 'Hello from a real client',
      text: 'Hi',
    });
    const mail = await out.next('mail');
    const unauthenticated = await fetch(String(listening['webhook']), { method: 'POST', body: '{}' });
    child.kill('SIGTERM');
    const code = await exited;
    // Assess
    expect(listening).toMatchObject({
      smtp: expect.stringMatching(/^smtp:\/\/127\.0\.0\.1:\d+$/),
      example: `support+game@${DESK}`,
      forge: expect.stringContaining('the file forge in'),
      leftover: 0,
    });
    expect(mail).toMatchObject({
      outcome: 'issue',
      reason: 'issue_created',
      mail: { subject: 'Hello from a real client' },
    });
    expect(unauthenticated.status).toBe(401);
    expect(code).toBe(0);
    expect(out.lines.at(-1)).toEqual({ event: 'stopped', queued: 0 });
    // The first start made the local secret, so the webhook has a token from the first mail on.
    expect(listening['secretCreated']).toBe(true);
    expect(listening['console']).toBe(`${String(listening['webhook'])}/`);
    // Logs go to stderr as JSON lines: the refused webhook call (no token sent) is one of them.
    const logs = stderr
      .trim()
      .split('\n')
      .map((line) => JSON.parse(line) as { level: string; message: string });
    expect(logs.filter((log) => log.level === 'error')).toEqual([]);
    expect(logs.filter((log) => log.level === 'warn').map((log) => log.message)).toEqual([
      expect.stringMatching(/^webhook refused: X-Gitlab-Token missing or wrong/),
    ]);
  });

  it('has --help, and refuses a bad port', async () => {
    // Prepare
    const cwd = await tempWorkspace('serve-help', localConfigText());
    const help = bufferIo({ cwd });
    const bad = bufferIo({ cwd });
    // Act
    const helpCode = await main(['serve', '--help'], help.io);
    const badCode = await main(['serve', '--port', 'smtp'], bad.io);
    // Assess
    expect(helpCode).toBe(0);
    expect(help.stdout()).toMatch(/Usage: postdesk serve/);
    expect(help.stdout()).toMatch(/--webhook-port N/);
    expect(badCode).toBe(2);
    expect(bad.stderr()).toMatch(/--port must be a port number/);
  });
});
