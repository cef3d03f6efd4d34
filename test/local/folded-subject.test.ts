import { readFile } from 'node:fs/promises';
import { connect } from 'node:net';
import { join } from 'node:path';
import { performance } from 'node:perf_hooks';
import { afterEach, describe, expect, it } from 'vitest';
import { type LocalDeskEvent, type LocalDeskHandle, startLocalDesk } from '../../cli/commands/serve.ts';
import type { DecisionTrace } from '../../core/trace.ts';
import { CUSTOMER, DESK, filesIn, localConfig, noDns, smtpClient, tempDir } from './support.ts';

const open: LocalDeskHandle[] = [];

afterEach(async () => {
  await Promise.all(open.splice(0).map((desk) => desk.close()));
});

/** A Subject folded into `lines` short continuation lines: 40,000 of them is about 280 KB. */
const foldedSubjectMail = (lines: number): string =>
  [
    `From: Ada Lovelace <${CUSTOMER}>`,
    `To: support+game@${DESK}`,
    `Subject: help${'\r\n word'.repeat(lines)}`,
    'Message-ID: <folded-subject@customer.example>',
    'Content-Type: text/plain; charset=utf-8',
    '',
    'The subject above is folded into many short lines.',
    '',
  ].join('\r\n');

/** Milliseconds from connecting to the desk's SMTP port until its 220 greeting arrives. */
const bannerDelayMs = (port: number): Promise<{ ms: number; banner: string }> =>
  new Promise((resolve, reject) => {
    const started = performance.now();
    const socket = connect(port, '127.0.0.1');
    socket.setEncoding('utf8');
    let text = '';
    socket.on('data', (chunk: string) => {
      text += chunk;
      if (!/^220 .*\r\n/m.test(text)) return;
      const ms = performance.now() - started;
      socket.end('QUIT\r\n');
      resolve({ ms, banner: text.trim() });
    });
    socket.on('error', reject);
  });

describe('folded Subject freezes the local desk', () => {
  it('a Subject folded into 40,000 lines: a second SMTP client gets its banner within 1 s, and the mail ends rejected with header_too_large', async () => {
    // Prepare
    const dataDir = await tempDir('folded-subject');
    const events: LocalDeskEvent[] = [];
    const desk = await startLocalDesk({
      config: localConfig({ maxRawBytes: 1_000_000 }),
      dataDir,
      env: {},
      port: 0,
      webhookPort: 0,
      resolver: noDns,
      onEvent: (event) => events.push(event),
    });
    open.push(desk);
    const raw = foldedSubjectMail(40_000);
    expect(raw.length).toBeGreaterThan(270_000);
    // Act: the hostile mail is accepted (250) and queued; its run starts at once. The second
    // connection opens while it is being processed.
    const info = await smtpClient(desk.smtpPort).sendMail({
      envelope: { from: CUSTOMER, to: [`support+game@${DESK}`] },
      raw,
    });
    const second = await bannerDelayMs(desk.smtpPort);
    await desk.idle();
    // Assess
    expect(info.response).toMatch(/^250 /);
    expect(second.banner).toMatch(/^220 /);
    expect(second.ms).toBeLessThan(1_000);
    const done = events.find((event) => event.kind === 'done');
    if (done?.kind !== 'done') throw new Error(`no decision: ${JSON.stringify(events.map((e) => e.kind))}`);
    const trace: DecisionTrace = done.run.trace;
    expect(trace.outcome).toBe('rejected');
    expect(trace.reason).toBe('header_too_large');
    expect(trace.message).toContain('limits.max_header_lines');
    // The trace is kept for `postdesk explain`/the console, and so is the raw mail.
    const saved = JSON.parse(await readFile(join(dataDir, 'traces', `${trace.mailId}.json`), 'utf8'));
    expect(saved).toMatchObject({ outcome: 'rejected', reason: 'header_too_large' });
    const mails = (await filesIn(join(dataDir, 'mail'))).filter((name) => name.endsWith('.eml'));
    expect(mails).toHaveLength(1);
    expect(await filesIn(join(dataDir, 'queue'))).toEqual([]);
  }, 120_000);
});
