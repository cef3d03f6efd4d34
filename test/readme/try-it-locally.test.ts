import { type ChildProcess, spawn } from 'node:child_process';
import { mkdir, mkdtemp, readdir, readFile, rm } from 'node:fs/promises';
import { join, resolve } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';

/**
 * The README's "Try it locally" section, run as written: its shell blocks in order, with bash,
 * against `npm start` on the ports the README names. The working folder is a fresh folder inside
 * the repository (so `npx postdesk` finds the project's own binary, as in a clone); `npm start` runs
 * from the package root, as npm runs every script, so its data folder is pointed at the same place
 * with POSTDESK_DATA_DIR, which is where `.postdesk/` resolves from that folder.
 */

const repo = resolve(import.meta.dirname, '../..');

const section = async (): Promise<string[]> => {
  const readme = await readFile(join(repo, 'README.md'), 'utf8');
  const start = readme.indexOf('## Try it locally');
  const end = readme.indexOf('\n## ', start + 1);
  const text = readme.slice(start, end);
  // Blocks inside list items are indented by three spaces.
  return [...text.matchAll(/^ {3}```sh\n([\s\S]*?)^ {3}```$/gm)].map((match) =>
    (match[1] ?? '')
      .split('\n')
      .map((line) => line.replace(/^ {3}/, ''))
      .join('\n')
      .trim(),
  );
};

const children: ChildProcess[] = [];
let work: string | undefined;

/** Stops `npm start` and the desk under it (its own process group), and waits for the ports to free. */
const stop = async (child: ChildProcess): Promise<void> => {
  if (child.pid === undefined || child.exitCode !== null || child.signalCode !== null) return;
  const exited = new Promise<void>((done) => child.once('exit', () => done()));
  try {
    process.kill(-child.pid, 'SIGINT');
  } catch {
    return;
  }
  await Promise.race([exited, new Promise((wake) => setTimeout(wake, 10_000))]);
  try {
    process.kill(-child.pid, 'SIGKILL');
  } catch {
    // Gone already.
  }
};

afterAll(async () => {
  await Promise.all(children.map(stop));
  if (work !== undefined) await rm(work, { recursive: true, force: true });
});

const run = (command: string, cwd: string, env: NodeJS.ProcessEnv): Promise<{ code: number; out: string }> =>
  new Promise((resolveRun, reject) => {
    const child = spawn('bash', ['-euo', 'pipefail', '-c', command], {
      cwd,
      env,
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let out = '';
    child.stdout.on('data', (chunk: Buffer) => {
      out += chunk.toString();
    });
    child.stderr.on('data', (chunk: Buffer) => {
      out += chunk.toString();
    });
    child.on('error', reject);
    child.on('exit', (code) => resolveRun({ code: code ?? 1, out }));
  });

const waitFor = async <T>(
  what: string,
  check: () => Promise<T | undefined>,
  timeoutMs = 20_000,
): Promise<T> => {
  const until = Date.now() + timeoutMs;
  for (;;) {
    const value = await check();
    if (value !== undefined) return value;
    if (Date.now() > until) throw new Error(`waited ${timeoutMs} ms for ${what}`);
    await new Promise((wake) => setTimeout(wake, 200));
  }
};

const filesIn = async (dir: string): Promise<string[]> => readdir(dir).catch(() => []);

describe('README: Try it locally', () => {
  it('runs every command of the section as written', { timeout: 120_000 }, async () => {
    try {
      await tryItLocally();
    } finally {
      await Promise.all(children.map(stop));
    }
  });
});

const tryItLocally = async (): Promise<void> => {
  {
    // Prepare
    const blocks = await section();
    expect(blocks).toHaveLength(4);
    const [startBlock, sendBlock, replyBlock, customerBlock] = blocks as [string, string, string, string];
    expect(startBlock).toBe('npm start');
    await mkdir(join(repo, '.tmp'), { recursive: true });
    work = await mkdtemp(join(repo, '.tmp', 'readme-'));
    const data = join(work, '.postdesk');
    const { POSTDESK_CONFIG: _config, ...base } = process.env;
    const env = { ...base, POSTDESK_DATA_DIR: data };
    const forge = join(data, 'forge/demo/support/issues');

    // 1. npm start
    const desk = spawn('bash', ['-c', `exec ${startBlock}`], {
      cwd: work,
      env,
      detached: true,
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    children.push(desk);
    let printed = '';
    desk.stdout?.on('data', (chunk: Buffer) => {
      printed += chunk.toString();
    });
    desk.stderr?.on('data', (chunk: Buffer) => {
      printed += chunk.toString();
    });
    await waitFor(
      'npm start to listen',
      async () => (printed.includes('Ctrl+C stops') ? true : undefined),
      60_000,
    ).catch((error: Error) => {
      throw new Error(`${error.message}; it printed:\n${printed}\n(is another desk on ports 2525/8025?)`);
    });
    expect(printed).toContain('the built-in demo desk');
    expect(printed).toContain('console        http://127.0.0.1:8025/');

    // 2. a mail over SMTP becomes demo/support#1
    expect(await run(sendBlock, work, env)).toMatchObject({ code: 0 });
    const issue = await waitFor('ticket #1', async () =>
      readFile(join(forge, '1.md'), 'utf8').catch(() => undefined),
    );
    expect(issue).toContain('title: Printer on fire');

    // 3. the console shows it
    const page = await (await fetch('http://127.0.0.1:8025/')).text();
    expect(page).toContain('Printer on fire');

    // 4. the team answers; the mail lands in the outbox
    const outboxBefore = (await filesIn(join(data, 'outbox'))).length;
    const answered = await run(replyBlock, work, env);
    expect(answered.code, answered.out).toBe(0);
    expect(answered.out).toMatch(/note 1 on demo\/support#1; 1 mail to the customer/);
    expect((await filesIn(join(data, 'outbox'))).length).toBe(outboxBefore + 1);

    // 5. the customer replies; the note appears on the ticket
    const replied = await run(customerBlock, work, env);
    expect(replied.code, replied.out).toBe(0);
    const note = await waitFor('the customer note', async () => {
      for (const name of await filesIn(join(forge, '1/notes'))) {
        const text = await readFile(join(forge, '1/notes', name), 'utf8');
        if (text.includes('That worked, thank you')) return text;
      }
      return undefined;
    });
    expect(note, printed).toContain('That worked, thank you');
    const ticket = await (await fetch('http://127.0.0.1:8025/tickets/demo/1')).text();
    expect(ticket).toContain('That worked, thank you!');
  }
};
