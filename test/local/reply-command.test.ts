import { readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { createFileForge } from '../../adapters/forges/file/index.ts';
import { type LocalDeskHandle, startLocalDesk } from '../../cli/commands/serve.ts';
import { DEMO_CONFIG_TEXT } from '../../cli/demo-config.ts';
import { main } from '../../cli/main.ts';
import { parseConfig } from '../../core/config/parse.ts';
import { bufferIo } from '../support/cli-io.ts';
import { DEMO_ADDRESS } from './console-support.ts';
import { CUSTOMER, filesIn, noDns, smtpClient, tempDir } from './support.ts';

const open: LocalDeskHandle[] = [];
afterEach(async () => {
  await Promise.all(open.splice(0).map((desk) => desk.close()));
});

/** A workspace whose desk already holds ticket demo/support#1 from Ada, made over SMTP. */
const workspace = async (configText = DEMO_CONFIG_TEXT) => {
  const cwd = await tempDir('reply');
  const dataDir = join(cwd, '.postdesk');
  const config = parseConfig(configText, 'postdesk.config.yaml');
  if (configText !== DEMO_CONFIG_TEXT) await writeFile(join(cwd, 'postdesk.config.yaml'), configText);
  const desk = await startLocalDesk({ config, dataDir, env: {}, port: 0, webhookPort: 0, resolver: noDns });
  open.push(desk);
  await smtpClient(desk.smtpPort).sendMail({
    from: `Ada <${CUSTOMER}>`,
    to: DEMO_ADDRESS,
    subject: 'Broken',
    text: 'It is broken.',
    messageId: '<ada-1@customer.example>',
  });
  await desk.idle();
  const forge = createFileForge({ root: join(dataDir, 'forge') });
  return { cwd, dataDir, desk, forge };
};

const reply = async (cwd: string, args: string[], stdin?: string) => {
  const run = bufferIo({ cwd, env: {}, ...(stdin === undefined ? {} : { stdin }) });
  const code = await main(['reply', ...args], run.io);
  return { code, stdout: run.stdout(), stderr: run.stderr() };
};

const newestMail = async (dataDir: string): Promise<string> => {
  const names = await filesIn(join(dataDir, 'outbox'));
  return readFile(join(dataDir, 'outbox', names.at(-1) ?? ''), 'utf8');
};

describe('postdesk reply', () => {
  it('answers a ticket: a note in the file forge and the customer mail in the outbox', async () => {
    // Prepare
    const { cwd, dataDir, forge } = await workspace();
    const before = await filesIn(join(dataDir, 'outbox'));
    // Act
    const result = await reply(cwd, ['demo#1', '--message', 'Fixed in 1.2.3.']);
    // Assess
    expect(result).toMatchObject({ code: 0, stderr: '' });
    expect(result.stdout).toMatch(/^note 1 on demo\/support#1; 1 mail to the customer in /);
    expect(await filesIn(join(dataDir, 'outbox'))).toHaveLength(before.length + 1);
    const mail = await newestMail(dataDir);
    expect(mail).toMatch(/^To: Ada <ada@customer\.example>/m);
    expect(mail).toMatch(/^Reply-To: support\+r-demo-1-\d+-[a-z0-9]+@desk\.localhost/m);
    expect(mail).toContain('Fixed in 1.2.3.');
    const thread = await forge.readThread({ path: 'demo/support' }, 1);
    expect(thread?.notes.at(-1)).toMatchObject({
      body: 'Fixed in 1.2.3.',
      internal: false,
      author: 'support-team',
    });
  });

  it('reads the answer from standard input, and mails no internal note', async () => {
    const { cwd, dataDir, forge } = await workspace();
    const before = await filesIn(join(dataDir, 'outbox'));
    const result = await reply(cwd, ['demo/support#1', '--internal', '--json'], 'Checked the logs.\n');
    expect(result.code).toBe(0);
    expect(JSON.parse(result.stdout)).toMatchObject({
      project: 'demo/support',
      iid: 1,
      queued: 0,
      ignored: 'internal_note',
    });
    expect(await filesIn(join(dataDir, 'outbox'))).toEqual(before);
    expect((await forge.readThread({ path: 'demo/support' }, 1))?.notes.at(-1)).toMatchObject({
      internal: true,
    });
  });

  it('closes a ticket; a customer reply to it is added and leaves it closed without reopen_on_reply', async () => {
    // Prepare
    const { cwd, desk, forge } = await workspace();
    const closed = await reply(cwd, ['demo#1', '--message', 'Closing, fixed.', '--close']);
    const answer = await newestMail(join(cwd, '.postdesk'));
    const replyTo = /support\+r-demo-1-[^>\s]+@desk\.localhost/.exec(answer)?.[0] ?? '';
    // Act
    await smtpClient(desk.smtpPort).sendMail({
      from: CUSTOMER,
      to: replyTo,
      subject: 'Re: Broken',
      text: 'Thanks, all good.',
    });
    await desk.idle();
    // Assess
    expect(closed.stdout).toContain('demo/support#1 is closed');
    const thread = await forge.readThread({ path: 'demo/support' }, 1);
    expect(thread?.issue.state).toBe('closed');
    expect(thread?.notes.at(-1)?.body).toContain('Thanks, all good.');
  });

  it('a customer reply reopens a closed ticket where reopen_on_reply says so', async () => {
    const { cwd, desk, forge } = await workspace(
      DEMO_CONFIG_TEXT.replace('    key: demo\n', '    key: demo\n    reopen_on_reply: true\n'),
    );
    await reply(cwd, ['demo#1', '--close']);
    expect((await forge.readThread({ path: 'demo/support' }, 1))?.issue.state).toBe('closed');
    await smtpClient(desk.smtpPort).sendMail({
      from: CUSTOMER,
      to: DEMO_ADDRESS,
      subject: 'Re: Broken',
      text: 'It is broken again.',
      inReplyTo: '<ada-1@customer.example>',
    });
    await desk.idle();
    const thread = await forge.readThread({ path: 'demo/support' }, 1);
    expect(thread?.issue.state).toBe('opened');
    expect(thread?.notes.some((note) => note.body.includes('It is broken again.'))).toBe(true);
  });

  it('--reopen reopens before answering', async () => {
    const { cwd, forge } = await workspace();
    await reply(cwd, ['demo#1', '--close']);
    const result = await reply(cwd, ['demo#1', '--reopen', '--message', 'One more thing.']);
    expect(result.stdout).toContain('demo/support#1 is open');
    expect((await forge.readThread({ path: 'demo/support' }, 1))?.issue.state).toBe('opened');
  });

  it('says what is wrong with a bad ticket or project', async () => {
    const { cwd } = await workspace();
    expect(await reply(cwd, ['demo', '--message', 'x'])).toMatchObject({ code: 1 });
    const unknown = await reply(cwd, ['nope#1', '--message', 'x']);
    expect(unknown.stderr).toContain('no project "nope" in the config; it has demo/support (key demo)');
    const missing = await reply(cwd, ['demo#9', '--message', 'x']);
    expect(missing.stderr).toContain('there is no ticket demo/support#9');
  });
});
