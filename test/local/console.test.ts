import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import type { LocalDeskHandle } from '../../cli/commands/serve.ts';
import { openLocalQueue } from '../../cli/local-queue.ts';
import { csrfOf, DEMO_ADDRESS, FORM, form, request, startDemoDesk } from './console-support.ts';
import { CUSTOMER, filesIn, smtpClient, tempDir } from './support.ts';

const open: LocalDeskHandle[] = [];
afterEach(async () => {
  await Promise.all(open.splice(0).map((desk) => desk.close()));
});

const start = async () => {
  const dataDir = await tempDir('console');
  const desk = await startDemoDesk(dataDir);
  open.push(desk);
  return { desk, dataDir, base: desk.consoleUrl.replace(/\/$/, '') };
};

/** A desk holding ticket demo/support#1 from Ada, and that ticket's page. */
const startWithTicket = async () => {
  const started = await start();
  await smtpClient(started.desk.smtpPort).sendMail({
    from: CUSTOMER,
    to: DEMO_ADDRESS,
    subject: 'Help',
    text: 'Hi',
  });
  await started.desk.idle();
  const page = await request(`${started.base}/tickets/demo/1`);
  return { ...started, page };
};

const hostile = new URL('../fixtures/mail/console/hostile-html.eml', import.meta.url);

describe('the local console', () => {
  it('lists a new ticket and shows its conversation and trace', async () => {
    // Prepare
    const { desk, base } = await start();
    await smtpClient(desk.smtpPort).sendMail({
      from: `Ada Lovelace <${CUSTOMER}>`,
      to: DEMO_ADDRESS,
      subject: 'Cannot log in',
      text: 'Hello, the login page says "error 42".',
    });
    await desk.idle();
    // Act
    const index = await request(`${base}/`);
    const ticket = await request(`${base}/tickets/demo/1`);
    // Assess
    expect(index.status).toBe(200);
    expect(index.text).toContain('<a href="/tickets/demo/1">Cannot log in</a>');
    expect(index.text).toContain('title="ada@customer.example">Ada Lovelace</span>');
    expect(ticket.text).toContain('the login page says "error 42".');
    // The thank-you mail the customer received sits in the thread.
    expect(ticket.text).toMatch(/Mail sent to &quot;Ada Lovelace&quot; &lt;ada@customer.example&gt;/);
    expect(ticket.text).toContain('<code>issue_created</code>');
  });

  it('sends strict security headers on every page', async () => {
    const { base } = await start();
    const index = await request(`${base}/`);
    expect(index.headers['content-security-policy']).toContain("script-src 'self'");
    expect(index.headers['content-security-policy']).not.toContain('unsafe-inline');
    expect(index.headers['x-frame-options']).toBe('DENY');
    expect(index.headers['x-content-type-options']).toBe('nosniff');
  });

  it('answers the ticket from the reply box through the webhook path, with a reply token', async () => {
    // Prepare
    const { base, page, dataDir } = await startWithTicket();
    const before = await filesIn(join(dataDir, 'outbox'));
    // Act
    const posted = await request(`${base}/-/reply/demo/1`, {
      method: 'POST',
      headers: { ...FORM, origin: base },
      body: form({
        csrf: csrfOf(page.text),
        message: 'Fixed in **1.2.3**.',
        visibility: 'public',
        state: 'close',
      }),
    });
    // Assess
    expect(posted.status).toBe(303);
    expect(posted.headers.location).toBe('/tickets/demo/1');
    const after = (await filesIn(join(dataDir, 'outbox'))).filter((name) => !before.includes(name));
    expect(after).toHaveLength(1);
    const mail = await readFile(join(dataDir, 'outbox', after[0] ?? ''), 'utf8');
    expect(mail).toMatch(/^Reply-To: support\+r-demo-1-\d+-[a-z0-9]+@desk\.localhost/m);
    expect(mail).toContain('Fixed in');
    const ticket = await request(`${base}/tickets/demo/1`);
    expect(ticket.text).toContain('<strong>1.2.3</strong>');
    expect(ticket.text).toContain('<span class="state closed">closed</span>');
  });

  it('keeps an internal note out of the customer mail', async () => {
    const { base, page, dataDir } = await startWithTicket();
    const before = await filesIn(join(dataDir, 'outbox'));
    const posted = await request(`${base}/-/reply/demo/1`, {
      method: 'POST',
      headers: FORM,
      body: form({
        csrf: csrfOf(page.text),
        message: 'Customer is on the old plan.',
        visibility: 'internal',
      }),
    });
    expect(posted.status).toBe(303);
    expect(await filesIn(join(dataDir, 'outbox'))).toEqual(before);
    const ticket = await request(`${base}/tickets/demo/1`);
    expect(ticket.text).toMatch(/class="entry note internal"[\s\S]*Customer is on the old plan\./);
  });

  it('refuses a POST without the CSRF token, with a wrong one, or from a foreign Origin', async () => {
    const { base, page } = await startWithTicket();
    const token = csrfOf(page.text);
    const attempt = (body: string, headers: Record<string, string> = {}) =>
      request(`${base}/-/reply/demo/1`, { method: 'POST', headers: { ...FORM, ...headers }, body });
    expect((await attempt(form({ message: 'x' }))).status).toBe(403);
    expect((await attempt(form({ csrf: `${token}x`, message: 'x' }))).status).toBe(403);
    expect(
      (await attempt(form({ csrf: token, message: 'x' }), { origin: 'https://evil.example' })).status,
    ).toBe(403);
    const ticket = await request(`${base}/tickets/demo/1`);
    expect(ticket.text).not.toContain('class="entry note');
  });

  it('refuses a request whose Host is not the console (DNS rebinding)', async () => {
    const { base, desk } = await start();
    const foreign = await request(`${base}/`, {
      headers: { host: `rebind.evil.example:${desk.webhookPort}` },
    });
    const otherPort = await request(`${base}/`, { headers: { host: '127.0.0.1:1' } });
    const localhost = await request(`${base}/`, { headers: { host: `localhost:${desk.webhookPort}` } });
    expect(foreign.status).toBe(421);
    expect(foreign.text).not.toContain('Tickets');
    expect(otherPort.status).toBe(421);
    expect(localhost.status).toBe(200);
  });

  it('leaves the webhook to the webhook: a GitLab POST still needs its token', async () => {
    const { base } = await start();
    const hook = await request(`${base}/`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', 'x-gitlab-event': 'Note Hook' },
      body: '{}',
    });
    expect(hook.status).toBe(401);
  });

  it('renders a hostile mail inert, serves the SVG as a sandboxed download and the PNG inline', async () => {
    // Prepare
    const { desk, base } = await start();
    await smtpClient(desk.smtpPort).sendMail({
      envelope: { from: 'mallory@customer.example', to: [DEMO_ADDRESS] },
      raw: await readFile(hostile),
    });
    await desk.idle();
    // A note in the forge is Markdown that may hold raw HTML (a hand-edited file, a pasted log).
    const first = await request(`${base}/tickets/demo/1`);
    await request(`${base}/-/reply/demo/1`, {
      method: 'POST',
      headers: FORM,
      body: form({
        csrf: csrfOf(first.text),
        visibility: 'internal',
        message:
          'Raw: <script>window.__pwned=11</script> <img src=x onerror="window.__pwned=12"> ' +
          '<svg onload="window.__pwned=13"></svg> [link](javascript:window.__pwned=14) ' +
          '<a href="javascript:window.__pwned=15">a</a> <div style="background:url(javascript:1)">styled</div>',
      }),
    });
    // Act
    const ticket = await request(`${base}/tickets/demo/1`);
    // Assess
    expect(ticket.text).toContain('Raw:');
    // What the mail and the forge put in the page: everything up to the console's own reply form.
    const main = ticket.text.slice(ticket.text.indexOf('<main>'), ticket.text.indexOf('<form class="reply"'));
    // No element of the sender's survives: tags, event handlers, script URLs (escaped text may say them).
    expect(main).not.toMatch(/<(script|svg|iframe|form|style|object|embed)\b/i);
    expect(main).not.toMatch(/<[^>]*\son[a-z]+\s*=/i);
    expect(main).not.toMatch(/<[^>]*javascript:/i);
    expect(main).not.toContain('tracker.example');
    const links = [...main.matchAll(/(?:src|href)="(\/tickets\/demo\/1\/files\/[^"]+)"/g)].map(
      (m) => m[1] ?? '',
    );
    // An SVG is linked, never embedded; a PNG is shown.
    expect(main).toMatch(/<a href="\/tickets\/demo\/1\/files\/[0-9a-f]{32}\/logo\.svg"/);
    expect(main).toMatch(/<img src="\/tickets\/demo\/1\/files\/[0-9a-f]{32}\/screen\.png"/);
    const svg = links.find((link) => link.endsWith('.svg'));
    const png = links.find((link) => link.endsWith('.png'));
    expect(svg).toBeDefined();
    expect(png).toBeDefined();
    const svgFile = await request(`${base}${svg}`);
    expect(svgFile.headers['content-type']).toBe('application/octet-stream');
    expect(svgFile.headers['content-disposition']).toMatch(/^attachment;/);
    expect(svgFile.headers['content-security-policy']).toContain('sandbox');
    const pngFile = await request(`${base}${png}`);
    expect(pngFile.headers['content-type']).toBe('image/png');
    expect(pngFile.body.subarray(1, 4).toString()).toBe('PNG');
  });

  it('redrives a dead letter from the dead-letter page', async () => {
    // Prepare: a mail that failed for good, as the worker leaves it after its last attempt.
    const { desk, base, dataDir } = await start();
    await smtpClient(desk.smtpPort).sendMail({
      from: CUSTOMER,
      to: DEMO_ADDRESS,
      subject: 'First',
      text: 'Hi',
    });
    await desk.idle();
    const queue = openLocalQueue(dataDir);
    const raw = (await filesIn(join(dataDir, 'mail')))[0] ?? '';
    const entry = await queue.put({
      version: 1,
      id: 'local-deadletter1',
      rawKey: raw,
      envelope: { recipients: [DEMO_ADDRESS], mailFrom: CUSTOMER },
      receivedAt: new Date().toISOString(),
      attempts: 3,
    });
    await queue.deadLetter(entry, { code: 'forge_unavailable', message: 'the forge was down' }, new Date());
    const page = await request(`${base}/dlq`);
    expect(page.text).toContain('local-deadletter1');
    expect(page.text).toContain('forge_unavailable: the forge was down');
    // Act
    const posted = await request(`${base}/-/dlq/local-deadletter1/redrive`, {
      method: 'POST',
      headers: FORM,
      body: form({ csrf: csrfOf(page.text) }),
    });
    await desk.idle();
    // Assess
    expect(posted.status).toBe(303);
    expect((await queue.listDead()).entries).toEqual([]);
    expect((await request(`${base}/mail`)).text).toContain('local-deadletter1');
  });
});

describe('the console beyond the ticket', () => {
  it('lists a quarantined stranger reply with its trace and releases it once', async () => {
    // Prepare: a reply to Ada's ticket from someone who is not a participant.
    const { desk, base } = await start();
    await smtpClient(desk.smtpPort).sendMail({
      from: CUSTOMER,
      to: DEMO_ADDRESS,
      subject: 'Help',
      text: 'Hi',
      messageId: '<ada-first@customer.example>',
    });
    await desk.idle();
    await smtpClient(desk.smtpPort).sendMail({
      from: 'stranger@elsewhere.example',
      to: DEMO_ADDRESS,
      subject: 'Re: Help',
      text: 'Me too!',
      inReplyTo: '<ada-first@customer.example>',
    });
    await desk.idle();
    const page = await request(`${base}/quarantine`);
    const id = /<section class="quarantined" data-id="([^"]+)"/.exec(page.text)?.[1] ?? '';
    expect(id).not.toBe('');
    expect(page.text).toContain('stranger@elsewhere.example');
    // Act
    const release = () =>
      request(`${base}/-/quarantine/${id}/release`, {
        method: 'POST',
        headers: FORM,
        body: form({ csrf: csrfOf(page.text) }),
      });
    const first = await release();
    // Assess: a stranger's reply runs again and meets the same policy, as the CLI's release does.
    expect(first.status).toBe(200);
    expect(first.text).toContain('Release: quarantined_again');
    expect(first.text).toContain('quarantined again (');
    expect((await request(`${base}/quarantine`)).text).toContain(`data-id="${id}"`);
  });

  it('is off when the desk listens beyond loopback', async () => {
    const { createConsole } = await import('../../cli/console/console.ts');
    const { consoleHostsFor } = await import('../../cli/commands/serve.ts');
    expect(consoleHostsFor('0.0.0.0', 8025)).toEqual([]);
    expect(consoleHostsFor('127.0.0.1', 8025)).toEqual(['127.0.0.1:8025', 'localhost:8025', '[::1]:8025']);
    const deskConsole = createConsole({
      config: (await import('../../cli/demo-config.ts')).demoConfig(),
      forge: undefined,
      tickets: {} as never,
      dataDir: await tempDir('console-off'),
      outboxDir: '',
      allowedHosts: () => consoleHostsFor('0.0.0.0', 8025),
      reply: async () => ({}) as never,
      listQuarantine: async () => [],
      release: async () => ({ result: '', message: '' }),
      listDead: async () => [],
      redrive: async () => false,
    });
    const answer = await deskConsole.handle({
      method: 'GET',
      path: '/',
      headers: { host: '10.0.0.5:8025' },
      body: Buffer.alloc(0),
    });
    expect(answer?.status).toBe(403);
  });
});
