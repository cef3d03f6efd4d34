import { randomBytes } from 'node:crypto';
import { readdir, readFile } from 'node:fs/promises';
import { connect } from 'node:net';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { createFileObjectStore } from '../../adapters/local/object-store.ts';
import { LocalSecretFile } from '../../adapters/local/secret-file.ts';
import { type LocalDeskEvent, type LocalDeskHandle, startLocalDesk } from '../../cli/commands/serve.ts';
import { openLocalQueue } from '../../cli/local-queue.ts';
import { loadEnvelope } from '../../cli/local-runtime.ts';
import { deskState } from '../support/desk-state.ts';
import { CUSTOMER, DESK, filesIn, localConfig, noDns, rawSmtp, smtpClient, tempDir } from './support.ts';

const open: LocalDeskHandle[] = [];

const start = async (
  dataDir: string,
  options: { maxRawBytes?: number; paused?: boolean; events?: LocalDeskEvent[] } = {},
): Promise<LocalDeskHandle> => {
  const desk = await startLocalDesk({
    config: localConfig({
      ...(options.maxRawBytes === undefined ? {} : { maxRawBytes: options.maxRawBytes }),
    }),
    dataDir,
    env: {},
    port: 0,
    webhookPort: 0,
    resolver: noDns,
    paused: options.paused,
    onEvent: (event) => options.events?.push(event),
  });
  open.push(desk);
  return desk;
};

afterEach(async () => {
  await Promise.all(open.splice(0).map((desk) => desk.close()));
});

const issuesOf = async (dataDir: string): Promise<string[]> =>
  (await filesIn(join(dataDir, 'forge/acme/game/issues'))).filter((name) => name.endsWith('.md'));

describe('postdesk serve: the local desk over real SMTP', () => {
  it('turns a mail with two attachments into an issue with both files, byte for byte', async () => {
    // Prepare
    const dataDir = await tempDir('serve');
    const events: LocalDeskEvent[] = [];
    const desk = await start(dataDir, { events });
    const log = Buffer.from('line 1\nline 2\n\u0000binary-ish tail\n');
    const screenshot = randomBytes(3000);
    // Act
    const info = await smtpClient(desk.smtpPort).sendMail({
      from: `Ada Lovelace <${CUSTOMER}>`,
      to: `support+game@${DESK}`,
      subject: 'The game crashes on level 3',
      text: 'It crashes when I open the map. Log and screenshot attached.',
      attachments: [
        { filename: 'crash.log', content: log, contentType: 'text/plain' },
        { filename: 'screen.png', content: screenshot, contentType: 'image/png' },
      ],
    });
    await desk.idle();
    // Assess
    expect(info.response).toMatch(/^250 .*queued as local-[0-9a-f]{32}/);
    const issue = await readFile(join(dataDir, 'forge/acme/game/issues/1.md'), 'utf8');
    expect(issue).toContain('The game crashes on level 3');
    expect(issue).toContain('It crashes when I open the map');
    const uploadsDir = join(dataDir, 'forge/acme/game/uploads');
    const uploaded = new Map<string, Buffer>();
    for (const folder of await readdir(uploadsDir)) {
      for (const name of await readdir(join(uploadsDir, folder))) {
        uploaded.set(name, await readFile(join(uploadsDir, folder, name)));
      }
    }
    expect([...uploaded.keys()].sort()).toEqual(['crash.log', 'screen.png']);
    expect(uploaded.get('crash.log')?.equals(log)).toBe(true);
    expect(uploaded.get('screen.png')?.equals(screenshot)).toBe(true);
    // The queue is empty, the raw mail kept, and the outcome was reported once.
    expect(await filesIn(join(dataDir, 'queue'))).toEqual([]);
    expect((await filesIn(join(dataDir, 'mail'))).filter((name) => name.endsWith('.eml'))).toHaveLength(1);
    const done = events.filter((event) => event.kind === 'done');
    expect(done).toHaveLength(1);
    expect(done[0]?.kind === 'done' && done[0].run.trace.outcome).toBe('issue');
  });

  it('keeps the SMTP envelope: the client IP and HELO reach the verdicts, and offline DNS is temperror, said so in the trace', async () => {
    // Prepare
    const dataDir = await tempDir('serve-dns');
    const events: LocalDeskEvent[] = [];
    const desk = await start(dataDir, { events });
    // Act
    await smtpClient(desk.smtpPort).sendMail({
      from: CUSTOMER,
      to: `support+game@${DESK}`,
      subject: 'Offline',
      text: 'Hello',
    });
    await desk.idle();
    // Assess
    const done = events.find((event) => event.kind === 'done');
    if (done?.kind !== 'done') throw new Error('no outcome');
    expect(done.entry.envelope.remoteIp).toBe('127.0.0.1');
    expect(done.entry.envelope.mailFrom).toBe(CUSTOMER);
    expect(done.run.dns.failed).toBeGreaterThan(0);
    const authenticate = done.run.trace.stages.find((stage) => stage.stage === 'authenticate');
    expect(authenticate?.detail?.['verdicts']).toMatchObject({ spf: 'PROCESSING_FAILED' });
    expect(String(authenticate?.detail?.['dns'])).toMatch(/DNS lookups failed \(ECONNREFUSED\).*temperror/);
  });

  it('sends a thank-you for a new issue to the outbox', async () => {
    // Prepare
    const dataDir = await tempDir('serve-outbox');
    const desk = await start(dataDir);
    // Act
    await smtpClient(desk.smtpPort).sendMail({
      from: CUSTOMER,
      to: `support+game@${DESK}`,
      subject: 'Where is my order?',
      text: 'Please help.',
    });
    await desk.idle();
    // Assess
    const outbox = (await filesIn(desk.outboxDir)).filter((name) => name.endsWith('.eml'));
    expect(outbox).toHaveLength(1);
    const mail = await readFile(join(desk.outboxDir, outbox[0] ?? ''), 'utf8');
    expect(mail).toMatch(new RegExp(`^To: .*${CUSTOMER.replace('.', '\\.')}`, 'mi'));
  });

  it('refuses a mail over limits.max_raw_bytes with 552 and keeps nothing of it', async () => {
    // Prepare
    const dataDir = await tempDir('serve-size');
    const desk = await start(dataDir, { maxRawBytes: 20_000 });
    // Act: a client that declares no SIZE, so the limit is enforced on the bytes themselves.
    const body = `Subject: big\r\nFrom: ${CUSTOMER}\r\n\r\n${'x'.repeat(76)}\r\n`.repeat(400);
    const replies = await rawSmtp(desk.smtpPort, [
      'EHLO client.example',
      `MAIL FROM:<${CUSTOMER}>`,
      `RCPT TO:<support+game@${DESK}>`,
      'DATA',
      `${body}.`,
      'QUIT',
    ]);
    // ...and nodemailer, which may declare it.
    const rejected = await smtpClient(desk.smtpPort)
      .sendMail({ from: CUSTOMER, to: `support+game@${DESK}`, subject: 'big', text: 'y'.repeat(40_000) })
      .then(
        () => undefined,
        (error: { responseCode?: number }) => error,
      );
    await desk.idle();
    // Assess
    expect(replies[1]).toMatch(/^250[ -]/m);
    expect(replies[1]).toMatch(/SIZE 20000/);
    expect(replies[4]).toMatch(/^354/);
    expect(replies[5]).toMatch(/^552 .*over the limit of 20000 bytes/);
    expect(rejected?.responseCode).toBe(552);
    expect(await filesIn(join(dataDir, 'mail'))).toEqual([]);
    expect(await filesIn(join(dataDir, 'queue'))).toEqual([]);
    expect(await filesIn(join(dataDir, 'tmp'))).toEqual([]);
    expect(await issuesOf(dataDir)).toEqual([]);
  });

  it('refuses a recipient outside the desk with 550 "not a desk address"', async () => {
    // Prepare
    const dataDir = await tempDir('serve-rcpt');
    const desk = await start(dataDir);
    // Act
    const error = await smtpClient(desk.smtpPort)
      .sendMail({ from: CUSTOMER, to: 'someone@elsewhere.example', subject: 'Hi', text: 'Hi' })
      .then(
        () => undefined,
        (failure: { responseCode?: number; response?: string }) => failure,
      );
    // Assess
    expect(error?.responseCode).toBe(550);
    expect(error?.response).toMatch(/not a desk address/);
    expect(await filesIn(join(dataDir, 'mail'))).toEqual([]);
  });

  it('leaves mail accepted but not processed in queue/ at shutdown; the next start delivers it exactly once', async () => {
    // Prepare
    const dataDir = await tempDir('serve-restart');
    const first = await start(dataDir, { paused: true });
    await smtpClient(first.smtpPort).sendMail({
      from: CUSTOMER,
      to: `support+game@${DESK}`,
      subject: 'Accepted before the stop',
      text: 'Do not lose me.',
    });
    // Act
    await first.close();
    const queued = await filesIn(join(dataDir, 'queue'));
    const issuesBefore = await issuesOf(dataDir);
    const events: LocalDeskEvent[] = [];
    const second = await start(dataDir, { events });
    await second.idle();
    await second.close();
    const third = await start(dataDir);
    await third.idle();
    // Assess
    expect(queued).toHaveLength(1);
    expect(queued[0]).toMatch(/^local-[0-9a-f]{32}\.json$/);
    expect(issuesBefore).toEqual([]);
    expect(second.leftover).toBe(1);
    expect(events.filter((event) => event.kind === 'done')).toHaveLength(1);
    expect(third.leftover).toBe(0);
    expect(await issuesOf(dataDir)).toEqual(['1.md']);
    expect(await filesIn(join(dataDir, 'queue'))).toEqual([]);
  });

  it('on close, lets a message being transferred finish: it is stored, answered 250 and delivered', async () => {
    // Prepare: a client in the middle of DATA
    const dataDir = await tempDir('serve-inflight');
    const desk = await start(dataDir);
    const socket = connect(desk.smtpPort, '127.0.0.1');
    socket.setEncoding('utf8');
    let received = '';
    socket.on('data', (chunk: string) => {
      received += chunk;
    });
    /** Waits for the n-th complete reply (a line with a space after its code). */
    const replies = (): string[] => received.split('\r\n').filter((line) => /^\d{3} /.test(line));
    const waitForReply = async (n: number): Promise<string> => {
      const deadline = Date.now() + 5000;
      while (replies().length < n) {
        if (Date.now() > deadline) throw new Error(`no reply ${n} in:\n${received}`);
        await new Promise((resolve) => setTimeout(resolve, 5));
      }
      return replies()[n - 1] ?? '';
    };
    await waitForReply(1);
    const commands = [
      'EHLO client.example',
      `MAIL FROM:<${CUSTOMER}>`,
      `RCPT TO:<support+game@${DESK}>`,
      'DATA',
    ];
    for (const [index, command] of commands.entries()) {
      socket.write(`${command}\r\n`);
      await waitForReply(index + 2);
    }
    socket.write(`From: ${CUSTOMER}\r\nTo: support+game@${DESK}\r\nSubject: In flight\r\n\r\nfirst half,`);
    // Act
    const closing = desk.close();
    await new Promise((resolve) => setTimeout(resolve, 50));
    socket.write(' second half\r\n.\r\n');
    const answer = await waitForReply(commands.length + 2);
    await closing;
    socket.destroy();
    // Assess
    expect(replies()[4]).toMatch(/^354 /);
    expect(answer).toMatch(/^250 2\.0\.0 OK: queued as local-/);
    expect(await issuesOf(dataDir)).toEqual(['1.md']);
    expect(await filesIn(join(dataDir, 'queue'))).toEqual([]);
  });

  it('delivers the same mail resent (its 250 lost) once: same bytes and envelope, same id', async () => {
    // Prepare
    const dataDir = await tempDir('serve-resend');
    const desk = await start(dataDir);
    const raw = `From: ${CUSTOMER}\r\nTo: support+game@${DESK}\r\nSubject: Twice\r\nMessage-ID: <twice@customer.example>\r\n\r\nHello\r\n`;
    const send = () =>
      smtpClient(desk.smtpPort).sendMail({
        envelope: { from: CUSTOMER, to: [`support+game@${DESK}`] },
        raw,
      });
    // Act
    await send();
    await desk.idle();
    await send();
    await desk.idle();
    // Assess
    expect(await issuesOf(dataDir)).toEqual(['1.md']);
  });

  it('quarantines what the pipeline quarantines, keeping the SMTP envelope (Bcc included) for a release', async () => {
    // Prepare: a reply to a forged reply address, sent as Bcc
    const dataDir = await tempDir('serve-quarantine');
    await new LocalSecretFile({ dataDir, env: {} }).writeText('reply_key: 0123456789abcdef0123456789\n');
    const desk = await start(dataDir);
    const forged = `support+r-game-1-0-aaaaaaaaaaaaaaaaaaaa@${DESK}`;
    // Act
    await smtpClient(desk.smtpPort).sendMail({
      from: CUSTOMER,
      to: 'someone@customer.example',
      bcc: forged,
      subject: 'Re: my ticket',
      text: 'A reply',
    });
    await desk.idle();
    // Assess
    const store = createFileObjectStore(join(dataDir, 'state'));
    const entries = [];
    for await (const entry of deskState(store).quarantine.list()) entries.push(entry);
    expect(entries).toHaveLength(1);
    expect(entries[0]?.reason).toBe('reply_token_invalid');
    expect(await loadEnvelope(store, entries[0]?.mailId ?? '')).toMatchObject({
      recipients: [forged],
      mailFrom: CUSTOMER,
      remoteIp: '127.0.0.1',
    });
    expect(await filesIn(join(dataDir, 'queue'))).toEqual([]);
    expect((await openLocalQueue(dataDir).listDead()).entries).toEqual([]);
  });
});
