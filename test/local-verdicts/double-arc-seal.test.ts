import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { createFileRawMailStore } from '../../adapters/local/raw-mail-store.ts';
import { computeLocalVerdicts } from '../../adapters/local/verdicts.ts';
import { type LocalDeskEvent, type LocalDeskHandle, startLocalDesk } from '../../cli/commands/serve.ts';
import { rawKeyOf } from '../../cli/local-desk.ts';
import { openLocalQueue } from '../../cli/local-queue.ts';
import { main } from '../../cli/main.ts';
import { filesIn, localConfig, noDns, smtpClient, tempDir, tempWorkspace } from '../local/support.ts';
import { bufferIo } from '../support/cli-io.ts';
import { fakeDns } from './fake-dns.ts';

const open: LocalDeskHandle[] = [];
afterEach(async () => {
  await Promise.all(open.splice(0).map((desk) => desk.close()));
});

// Two `ARC-Seal: i=1` headers make mailauth report `arc.chain: false`; the adapter used to spread it.
const doubleSeal = [
  'ARC-Seal: i=1; a=rsa-sha256; t=1717492360; cv=none; d=lists.forwarder.example; s=arc; b=AAAA',
  'ARC-Seal: i=1; a=rsa-sha256; t=1717492361; cv=none; d=evil.example; s=arc; b=BBBB',
  'ARC-Message-Signature: i=1; a=rsa-sha256; c=relaxed/relaxed; d=lists.forwarder.example; s=arc; h=from:to:subject; bh=AAAA; b=AAAA',
  'ARC-Authentication-Results: i=1; lists.forwarder.example; dkim=pass header.d=example.org',
  'From: Jane Doe <jane.doe@example.org>',
  'To: support+game@desk.example.com',
  'Subject: Save files disappear',
  'Message-ID: <double-arc@example.org>',
  'Content-Type: text/plain; charset=utf-8',
  '',
  'Hello.',
  '',
].join('\r\n');

describe('double-arc-seal', () => {
  it('gives a failing ARC verdict instead of throwing', async () => {
    // Prepare
    const resolver = fakeDns({}, { error: 'ENOTFOUND' }).resolver;
    // Act
    const verdicts = await computeLocalVerdicts(
      Buffer.from(doubleSeal),
      { recipients: ['support+game@desk.example.com'], mailFrom: 'jane.doe@example.org' },
      { resolver },
    );
    // Assess
    expect(verdicts.arc?.result).not.toBe('pass');
    expect(verdicts.source).toBe('local');
  });

  it('gets a decision over real SMTP on the local desk, not a dead letter', async () => {
    // Prepare
    const dataDir = await tempDir('double-arc');
    const events: LocalDeskEvent[] = [];
    const desk = await startLocalDesk({
      config: localConfig(),
      dataDir,
      env: {},
      port: 0,
      webhookPort: 0,
      resolver: noDns,
      retry: { attempts: 1, baseMs: 1, capMs: 1 },
      onEvent: (event) => events.push(event),
    });
    open.push(desk);
    // Act
    await smtpClient(desk.smtpPort).sendMail({
      envelope: { from: 'jane.doe@example.org', to: ['support+game@desk.example.com'] },
      raw: doubleSeal,
    });
    await desk.idle();
    // Assess
    expect(events.map((event) => event.kind)).not.toContain('dead_letter');
    const done = events.find((event) => event.kind === 'done');
    expect(done?.kind === 'done' && done.run.trace.outcome).toBe('issue');
    expect(await filesIn(join(dataDir, 'dlq'))).toEqual([]);
  });

  it('postdesk redrive of the dead letter it used to leave gives a decision', async () => {
    // Prepare: the entry as the throwing verdicts left it, four attempts used, in dlq/.
    const cwd = await tempWorkspace('double-arc-redrive');
    const dataDir = join(cwd, '.postdesk');
    const id = `local-${'a'.repeat(32)}`;
    await createFileRawMailStore(join(dataDir, 'mail')).put(rawKeyOf(id), Buffer.from(doubleSeal));
    const queue = openLocalQueue(dataDir);
    const entry = await queue.put({
      version: 1,
      id,
      rawKey: rawKeyOf(id),
      envelope: {
        recipients: ['support+game@desk.example.com'],
        mailFrom: 'jane.doe@example.org',
        remoteIp: '127.0.0.1',
      },
      receivedAt: new Date().toISOString(),
      attempts: 4,
    });
    await queue.deadLetter(
      entry,
      { code: 'error', message: '(arc.chain ?? []) is not iterable' },
      new Date(),
    );
    const io = bufferIo({ cwd, env: {} });
    // Act
    const code = await main(['redrive', '--json', '--dns', 'offline'], io.io);
    // Assess
    expect(code).toBe(0);
    const lines = io
      .stdout()
      .trim()
      .split('\n')
      .map((line) => JSON.parse(line));
    expect(lines[0]).toMatchObject({ id, outcome: 'issue' });
    expect(await filesIn(join(dataDir, 'dlq'))).toEqual([]);
    expect(await filesIn(join(dataDir, 'forge/acme/game/issues'))).toContain('1.md');
  });
});
