import { type ChildProcessByStdio, spawn } from 'node:child_process';
import { type FSWatcher, watch } from 'node:fs';
import { mkdir, readdir, readFile } from 'node:fs/promises';
import { join, resolve } from 'node:path';
import type { Readable } from 'node:stream';
import { afterEach, describe, expect, it } from 'vitest';
import { DESK, filesIn, smtpClient, tempWorkspace } from './support.ts';

/**
 * issue-14 "duplicate thank-yous after a crash": `postdesk serve` SIGKILLed three times during an
 * 80-mail batch made 80 issues, exactly once, but 82 thank-yous (two customers got two). The
 * thank-you was written to the outbox and the process died before the desk remembered it had sent
 * it; the restarted desk ran the mail again and sent it again.
 *
 * The real binary, real SMTP (nodemailer) on loopback, free ports. Each kill comes just after a
 * thank-you lands in `.postdesk/outbox/`: the moment a crash hurts most (the mail went, the desk's
 * record of it may not have). One mail runs at a time (`--concurrency 1`), so a kill never lands
 * in the middle of another mail's forge call, whose ledger lease would hold the restarted desk for
 * its 5 minutes (a wait, not a fault, but a slow test).
 */

const bin = resolve(import.meta.dirname, '../../cli/bin/postdesk.js');
const CUSTOMERS = 80;
/** Kill when the outbox holds this many thank-yous. */
const KILL_AT = [12, 37, 61];

type Child = ChildProcessByStdio<null, Readable, Readable>;
const children: Child[] = [];
const watchers: FSWatcher[] = [];

afterEach(() => {
  for (const watcher of watchers.splice(0)) watcher.close();
  for (const child of children.splice(0)) if (child.exitCode === null) child.kill('SIGKILL');
});

const configText = `domain: ${DESK}
mailbox: support
forge: { kind: file }
authentication: { require: [] }
rate_limits: { per_desk: { '10': 100000 }, per_sender: { '60': 100000 } }
projects:
  - path: acme/game
    key: game
`;

const customer = (index: number): string => `customer-${index}@customer.example`;

/** The same bytes every time, so a mail re-sent after a kill is the same mail (the same id). */
const rawMail = (index: number): string =>
  [
    `From: Customer ${index} <${customer(index)}>`,
    `To: support+game@${DESK}`,
    `Subject: Crash batch ticket ${index}`,
    `Message-ID: <crash-${index}@customer.example>`,
    'Date: Wed, 02 Dec 2026 10:00:00 +0000',
    'MIME-Version: 1.0',
    'Content-Type: text/plain; charset=utf-8',
    '',
    `Hello, this is customer ${index}.`,
    '',
  ].join('\r\n');

/** Resolves with the SMTP port once the child prints its `listening` line. */
const listeningPort = (child: Child): Promise<number> =>
  new Promise((resolvePort, reject) => {
    let buffer = '';
    child.stdout.setEncoding('utf8');
    child.stdout.on('data', (chunk: string) => {
      buffer += chunk;
      for (let end = buffer.indexOf('\n'); end !== -1; end = buffer.indexOf('\n')) {
        const line = buffer.slice(0, end);
        buffer = buffer.slice(end + 1);
        try {
          const event = JSON.parse(line) as Record<string, unknown>;
          if (event['event'] === 'listening') resolvePort(Number(event['smtpPort']));
        } catch {
          // Not a JSON line: ignored.
        }
      }
    });
    child.on('exit', (code, signal) =>
      reject(new Error(`serve exited (${code ?? signal}) before listening`)),
    );
  });

/** The kind of an outbox mail, from its Message-ID (`<postdesk.<kind>.<uuid>@desk>`), and its recipient. */
const outboxMail = async (path: string): Promise<{ kind: string; to: string }> => {
  const text = await readFile(path, 'latin1');
  const head = text.slice(0, text.indexOf('\r\n\r\n'));
  const kind = /^message-id:\s*<postdesk\.([a-z_]+)\./im.exec(head)?.[1] ?? 'unknown';
  const to = /^to:.*?<?([^\s<>]+@[^\s<>]+)>?\s*$/im.exec(head)?.[1]?.toLowerCase() ?? 'unknown';
  return { kind, to };
};

const pollUntil = async (what: string, check: () => Promise<boolean>, timeoutMs: number): Promise<void> => {
  const until = Date.now() + timeoutMs;
  while (!(await check())) {
    if (Date.now() > until) throw new Error(`timed out waiting for ${what}`);
    await new Promise((wake) => setTimeout(wake, 200));
  }
};

describe('postdesk serve killed during a batch (issue-14)', () => {
  it('issue-14 duplicate thank-yous after a crash: 80 mails, 3 SIGKILLs: 80 issues, each once, and no customer thanked twice', async () => {
    // Prepare
    const cwd = await tempWorkspace('serve-crash', configText);
    const dataDir = join(cwd, '.postdesk');
    const outbox = join(dataDir, 'outbox');
    await mkdir(outbox, { recursive: true });
    const { POSTDESK_DATA_DIR: _dataDir, POSTDESK_CONFIG: _config, ...env } = process.env;

    let child: Child | undefined;
    let port: Promise<number> = Promise.resolve(0);
    const start = (): void => {
      const next = spawn(
        process.execPath,
        [
          bin,
          'serve',
          '--port',
          '0',
          '--webhook-port',
          '0',
          '--dns',
          'offline',
          '--json',
          '--concurrency',
          '1',
        ],
        { cwd, env, stdio: ['ignore', 'pipe', 'pipe'] },
      );
      next.stderr.resume();
      children.push(next);
      child = next;
      port = listeningPort(next);
    };
    start();

    // The killer: a thank-you file appears, the desk dies at once and is started again.
    const seen = new Set<string>();
    const kills: number[] = [];
    let restarting: Promise<void> = Promise.resolve();
    watchers.push(
      watch(outbox, (_event, name) => {
        if (!name || name.startsWith('.') || !name.endsWith('.eml') || seen.has(name)) return;
        seen.add(name);
        const due = KILL_AT[kills.length];
        if (due === undefined || seen.size < due || !child || child.exitCode !== null) return;
        const victim = child;
        victim.kill('SIGKILL');
        kills.push(seen.size);
        restarting = new Promise<void>((done) => {
          victim.once('exit', () => {
            start();
            done();
          });
        });
      }),
    );

    // Act: every customer's mail, one after another; one refused by a dying desk goes again.
    for (let index = 0; index < CUSTOMERS; index++) {
      for (let attempt = 1; ; attempt++) {
        try {
          await restarting;
          await smtpClient(await port).sendMail({
            envelope: { from: customer(index), to: [`support+game@${DESK}`] },
            raw: rawMail(index),
          });
          break;
        } catch (error) {
          if (attempt >= 20) throw error;
          await new Promise((wake) => setTimeout(wake, 250));
        }
      }
    }
    // Done: every mail is an issue, nothing is left in the queue, every kill happened.
    const issuesDir = join(dataDir, 'forge/acme/game/issues');
    const issueFiles = async () => (await filesIn(issuesDir)).filter((name) => name.endsWith('.md'));
    await pollUntil(
      'the batch to finish',
      async () =>
        kills.length === KILL_AT.length &&
        (await issueFiles()).length >= CUSTOMERS &&
        (await filesIn(join(dataDir, 'queue'))).filter((name) => name.endsWith('.json')).length === 0,
      // Typically a minute. Generous: should a kill land in the next mail's forge call after all,
      // the restarted desk waits out that delivery's ledger lease (5 minutes) before it retries.
      540_000,
    );
    await restarting;
    const last = child;
    if (last && last.exitCode === null) {
      const exited = new Promise<void>((done) => last.once('exit', () => done()));
      last.kill('SIGTERM');
      await exited;
    }

    // Assess
    const titles = await Promise.all(
      (await issueFiles()).map(
        async (name) => /^title: (.*)$/m.exec(await readFile(join(issuesDir, name), 'utf8'))?.[1] ?? '',
      ),
    );
    expect(titles).toHaveLength(CUSTOMERS);
    expect(new Set(titles).size).toBe(CUSTOMERS);
    const mails = await Promise.all(
      (await readdir(outbox))
        .filter((name) => name.endsWith('.eml') && !name.startsWith('.'))
        .map((name) => outboxMail(join(outbox, name))),
    );
    const thanked = new Map<string, number>();
    for (const mail of mails.filter((mail) => mail.kind === 'thank_you'))
      thanked.set(mail.to, (thanked.get(mail.to) ?? 0) + 1);
    const twice = [...thanked].filter(([, count]) => count > 1).map(([to]) => to);
    console.info(
      `serve-crash: kills at ${kills.join(', ')} thank-yous; ${mails.length} outbox mails, ${[...thanked.values()].reduce((a, b) => a + b, 0)} thank-yous to ${thanked.size} customers`,
    );
    expect(twice).toEqual([]);
    expect(kills).toHaveLength(KILL_AT.length);
  }, 600_000);
});
