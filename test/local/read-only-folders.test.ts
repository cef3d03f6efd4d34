import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { afterEach, describe, expect, it, vi } from 'vitest';
import { type LocalDeskEvent, type LocalDeskHandle, startLocalDesk } from '../../cli/commands/serve.ts';
import { main } from '../../cli/main.ts';
import { bufferIo } from '../support/cli-io.ts';
import { CUSTOMER, DESK, filesIn, localConfig, noDns, smtpClient, tempWorkspace } from './support.ts';

/**
 * A read-only or full folder, injected through the file system module the local adapters use:
 * tests run as root, where a chmod'ed folder does not refuse a write, so the errno a real
 * read-only folder gives (EROFS) is thrown by a wrapped `node:fs/promises` for paths under the
 * folder named in `fault.folder`.
 */
const fault = vi.hoisted(() => ({ folder: undefined as string | undefined, code: 'EROFS' }));

vi.mock('node:fs/promises', async (importOriginal) => {
  const real = await importOriginal<typeof import('node:fs/promises')>();
  const failing =
    <A extends unknown[], R>(syscall: string, fn: (path: never, ...rest: A) => Promise<R>) =>
    (path: unknown, ...rest: A): Promise<R> => {
      const folder = fault.folder;
      if (folder !== undefined && String(path).startsWith(folder)) {
        const error = Object.assign(
          new Error(`${fault.code}: read-only file system, ${syscall} '${String(path)}'`),
          {
            code: fault.code,
            syscall,
            path: String(path),
          },
        );
        return Promise.reject(error);
      }
      return fn(path as never, ...rest);
    };
  const writes = {
    open: failing('open', real.open),
    writeFile: failing('open', real.writeFile),
    mkdir: failing('mkdir', real.mkdir),
    rename: failing('rename', real.rename),
    link: failing('link', real.link),
  };
  return { ...real, ...writes, default: { ...real, ...writes } };
});

const open: LocalDeskHandle[] = [];
afterEach(async () => {
  fault.folder = undefined;
  await Promise.all(open.splice(0).map((desk) => desk.close()));
});

const start = async (
  dataDir: string,
  events: LocalDeskEvent[],
  onEvent?: (event: LocalDeskEvent) => void,
) => {
  const desk = await startLocalDesk({
    config: localConfig(),
    dataDir,
    env: {},
    port: 0,
    webhookPort: 0,
    resolver: noDns,
    retry: { attempts: 2, baseMs: 1, capMs: 1 },
    onEvent: (event) => {
      events.push(event);
      onEvent?.(event);
    },
  });
  open.push(desk);
  return desk;
};

const send = (port: number, subject: string) =>
  smtpClient(port).sendMail({ from: CUSTOMER, to: `support+game@${DESK}`, subject, text: 'Please help.' });

const issuesIn = async (dataDir: string): Promise<string[]> =>
  (await filesIn(join(dataDir, 'forge/acme/game/issues'))).filter((name) => name.endsWith('.md'));

describe('read-only folders in the local desk', () => {
  it('read-only forge folder is quarantined as permanent: it is retried, then dead-lettered with its trace', async () => {
    // Prepare
    const cwd = await tempWorkspace('ro-forge');
    const dataDir = join(cwd, '.postdesk');
    const events: LocalDeskEvent[] = [];
    const desk = await start(dataDir, events);
    fault.folder = join(dataDir, 'forge');
    // Act
    await send(desk.smtpPort, 'The forge folder is read-only');
    await desk.idle();
    // Assess: retried, then dead-lettered; never quarantined.
    expect(events.map((event) => event.kind)).toEqual(['accepted', 'retry', 'dead_letter']);
    const dead = events.at(-1);
    if (dead?.kind !== 'dead_letter') throw new Error('not dead-lettered');
    expect(dead.error.code).toBe('forge_file_access');
    expect(dead.error.message).toMatch(/EROFS.*writable/);
    expect(await filesIn(join(dataDir, 'state/quarantine'))).toEqual([]);
    const entry = JSON.parse(await readFile(join(dataDir, 'dlq', `${dead.entry.id}.json`), 'utf8'));
    expect(entry.lastError.code).toBe('forge_file_access');
    const stages = (entry.lastError.stages as Array<{ stage: string }>).map((stage) => stage.stage);
    expect(stages).toEqual(expect.arrayContaining(['load', 'parse', 'authenticate', 'route']));
  });

  it('leftover lease blocks release: after the failed attempt the lease is given back, and redrive delivers at once', async () => {
    // Prepare: the attempt fails on the read-only forge and is dead-lettered.
    const cwd = await tempWorkspace('ro-lease');
    const dataDir = join(cwd, '.postdesk');
    const events: LocalDeskEvent[] = [];
    const desk = await start(dataDir, events);
    fault.folder = join(dataDir, 'forge');
    await send(desk.smtpPort, 'Lease left behind');
    await desk.idle();
    await desk.close();
    const dead = events.find((event) => event.kind === 'dead_letter');
    if (dead?.kind !== 'dead_letter') throw new Error('not dead-lettered');
    const ledger = JSON.parse(
      await readFile(join(dataDir, 'state/ledger', dead.entry.id, 'game.json'), 'utf8'),
    );
    fault.folder = undefined;
    const io = bufferIo({ cwd, env: {} });
    // Act: the folder is fixed; redrive now, well within the 5-minute lease.
    const code = await main(['redrive', '--json', '--dns', 'offline'], io.io);
    // Assess
    expect(ledger).toMatchObject({ state: 'pending' });
    expect(ledger.releasedAt).toEqual(expect.any(String));
    expect(code).toBe(0);
    const first = JSON.parse(io.stdout().trim().split('\n')[0] ?? '{}');
    expect(first).toMatchObject({ id: dead.entry.id, outcome: 'issue' });
    expect(await issuesIn(dataDir)).toEqual(['1.md']);
  });

  it('read-only outbox loses the thank-you: the mail stays queued and the thank-you goes on the retry', async () => {
    // Prepare
    const cwd = await tempWorkspace('ro-outbox');
    const dataDir = join(cwd, '.postdesk');
    const events: LocalDeskEvent[] = [];
    // The folder is fixed while the mail waits for its retry.
    const desk = await start(dataDir, events, (event) => {
      if (event.kind === 'retry') fault.folder = undefined;
    });
    fault.folder = join(dataDir, 'outbox');
    // Act
    await send(desk.smtpPort, 'Where is my thank-you?');
    await desk.idle();
    // Assess
    expect(events.map((event) => event.kind)).toEqual(['accepted', 'retry', 'done']);
    const retry = events[1];
    expect(retry?.kind === 'retry' && retry.error.code).toBe('outbox_unavailable');
    const done = events[2];
    expect(done?.kind === 'done' && done.run.trace.outcome).toBe('issue');
    expect(await issuesIn(dataDir)).toEqual(['1.md']);
    const sent = (await filesIn(join(dataDir, 'outbox'))).filter((name) => name.endsWith('.eml'));
    expect(sent).toHaveLength(1);
    const thankYou = await readFile(join(dataDir, 'outbox', sent[0] ?? ''), 'utf8');
    expect(thankYou).toContain(`To: ${CUSTOMER}`);
  });
});
