import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import type { Browser, Page } from 'playwright-core';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import type { LocalDeskHandle } from '../../cli/commands/serve.ts';
import { DEMO_ADDRESS, startDemoDesk } from '../local/console-support.ts';
import { CUSTOMER, filesIn, smtpClient, tempDir } from '../local/support.ts';
import { launchChromium } from './chromium.ts';

/**
 * The whole local loop in a real browser: a customer's mail over SMTP, the ticket appearing in the
 * console without a reload, the team's answer typed into the reply box, the customer's mail in the
 * outbox with a reply token, the customer's reply over SMTP, and the note appearing in the console.
 * Then hostile mail, which must run no script in the page, and the console's refusals.
 */

const REBIND_HOST = 'rebind.postdesk.test';

let browser: Browser;
const desks: LocalDeskHandle[] = [];

beforeAll(async () => {
  // The foreign name resolves to loopback, as a DNS-rebinding attacker's name would.
  browser = await launchChromium([`--host-resolver-rules=MAP ${REBIND_HOST} 127.0.0.1`]);
}, 60_000);

afterAll(async () => {
  await browser?.close();
});

afterEach(async () => {
  await Promise.all(desks.splice(0).map((desk) => desk.close()));
});

const start = async () => {
  const dataDir = await tempDir('browser');
  const desk = await startDemoDesk(dataDir);
  desks.push(desk);
  const page = await browser.newPage();
  const errors: string[] = [];
  page.on('pageerror', (error) => errors.push(error.message));
  return { desk, dataDir, page, errors };
};

const newestOutbox = async (dataDir: string): Promise<string> => {
  const names = await filesIn(join(dataDir, 'outbox'));
  return readFile(join(dataDir, 'outbox', names.at(-1) ?? ''), 'utf8');
};

const headerOf = (mail: string, name: string): string => {
  const match = new RegExp(`^${name}:[ \\t]*((?:.*)(?:\\r?\\n[ \\t].*)*)`, 'im').exec(mail);
  return (match?.[1] ?? '').replace(/\r?\n[ \t]+/g, ' ').trim();
};

/** `window.__pwned` in the page: set by any of the hostile fixture's scripts that ran. */
const pwned = (page: Page): Promise<unknown> =>
  page.evaluate(() => (globalThis as unknown as { __pwned?: unknown }).__pwned);

describe('the console in Chromium', () => {
  it('carries a ticket from the first mail to the customer reply', async () => {
    // Prepare: the console is open before any mail arrives.
    const { desk, dataDir, page, errors } = await start();
    await page.goto(desk.consoleUrl);
    await expect(page.locator('.project p.empty').textContent()).resolves.toContain('No tickets yet');
    // Act 1: a customer writes; the ticket appears without a reload.
    await smtpClient(desk.smtpPort).sendMail({
      from: `Ada Lovelace <${CUSTOMER}>`,
      to: DEMO_ADDRESS,
      subject: 'Printer on fire',
      text: 'Hello, the printer is on fire again.',
      messageId: '<first-mail@customer.example>',
    });
    await page.locator('a', { hasText: 'Printer on fire' }).waitFor({ timeout: 15_000 });
    // Act 2: the team answers in the reply box.
    await page.locator('a', { hasText: 'Printer on fire' }).click();
    await page.locator('.entry.description').waitFor();
    await page.locator('textarea[name=message]').fill('Have you tried **turning it off**?');
    await Promise.all([page.waitForURL(/\/tickets\/demo\/1$/), page.locator('button[type=submit]').click()]);
    await page.locator('.entry.note.public', { hasText: 'turning it off' }).waitFor();
    // Assess 2: the customer's mail carries a signed reply address.
    const answer = await newestOutbox(dataDir);
    expect(answer).toContain('turning it off');
    const replyTo = /support\+r-demo-1-[^>\s]+@desk\.localhost/.exec(headerOf(answer, 'Reply-To'))?.[0];
    expect(replyTo).toMatch(/^support\+r-demo-1-\d+-[a-z0-9]+@desk\.localhost$/);
    // Act 3: the customer replies over SMTP; the note appears without a reload.
    await smtpClient(desk.smtpPort).sendMail({
      from: `Ada Lovelace <${CUSTOMER}>`,
      to: replyTo ?? '',
      subject: 'Re: Printer on fire',
      text: 'It worked, thank you!\n\nOn Wed, Dec 2, 2026 Support wrote:\n> Have you tried turning it off?',
      inReplyTo: headerOf(answer, 'Message-ID'),
      references: [headerOf(answer, 'Message-ID')],
    });
    await page.locator('.entry.note', { hasText: 'It worked, thank you!' }).waitFor({ timeout: 15_000 });
    // Assess 3: the conversation reads as one thread, with every mail's trace.
    const entries = await page
      .locator('.thread .entry')
      .evaluateAll((nodes) => nodes.map((node) => node.className.replace('entry ', '')));
    expect(entries).toEqual(['description', 'sent', 'note public', 'sent', 'note public']);
    await expect(page.locator('details.trace').count()).resolves.toBe(2);
    await page.screenshot({ path: join(dataDir, 'ticket.png'), fullPage: true });
    expect(errors).toEqual([]);
  });

  it('shows hostile mail and hostile notes without running any of their script', async () => {
    // Prepare
    const { desk, page, errors } = await start();
    await smtpClient(desk.smtpPort).sendMail({
      envelope: { from: 'mallory@customer.example', to: [DEMO_ADDRESS] },
      raw: await readFile(new URL('../fixtures/mail/console/hostile-html.eml', import.meta.url)),
    });
    await desk.idle();
    await page.goto(`${desk.consoleUrl}tickets/demo/1`);
    await page
      .locator('textarea[name=message]')
      .fill(
        'Pasted: <script>window.__pwned=11</script><img src=x onerror="window.__pwned=12">' +
          '<svg onload="window.__pwned=13"></svg> [x](javascript:window.__pwned=14)',
      );
    await page.locator('input[value=internal]').check();
    // Act
    await Promise.all([page.waitForURL(/\/tickets\/demo\/1$/), page.locator('button[type=submit]').click()]);
    await page.locator('.entry.note.internal').waitFor();
    // Click every link the customer's and the note's text left, as a curious person would.
    for (const link of await page.locator('.thread a[href^="javascript:"]').all()) await link.click();
    // Assess
    expect(await pwned(page)).toBeUndefined();
    const scripts = await page
      .locator('script')
      .evaluateAll((nodes) => nodes.map((node) => node.getAttribute('src')));
    expect(scripts).toEqual(['/assets/console.js']);
    await expect(page.locator('.thread img[src$="screen.png"]').count()).resolves.toBe(1);
    await expect(
      page.locator('.thread svg, .thread iframe, .thread [onerror], .thread [onload]').count(),
    ).resolves.toBe(0);
    expect(errors).toEqual([]);
  });

  it('refuses a POST without the CSRF token and a page under a foreign Host', async () => {
    // Prepare
    const { desk, page } = await start();
    await smtpClient(desk.smtpPort).sendMail({
      from: CUSTOMER,
      to: DEMO_ADDRESS,
      subject: 'Hi',
      text: 'Hello',
    });
    await desk.idle();
    await page.goto(`${desk.consoleUrl}tickets/demo/1`);
    // Act
    const forged = await page.evaluate(async () => {
      const response = await fetch('/-/reply/demo/1', {
        method: 'POST',
        headers: { 'content-type': 'application/x-www-form-urlencoded' },
        body: 'message=forged&visibility=public',
      });
      return response.status;
    });
    const rebound = await page.goto(`http://${REBIND_HOST}:${desk.webhookPort}/`);
    // Assess
    expect(forged).toBe(403);
    expect(rebound?.status()).toBe(421);
    expect(await page.content()).not.toContain('Printer');
    await page.goto(`${desk.consoleUrl}tickets/demo/1`);
    await expect(page.locator('.entry.note').count()).resolves.toBe(0);
  });
});
