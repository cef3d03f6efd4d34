import { readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { DEMO_CONFIG_TEXT } from '../../cli/demo-config.ts';
import { main } from '../../cli/main.ts';
import { tempDir } from '../local/support.ts';
import { bufferIo } from '../support/cli-io.ts';

/**
 * The default path a newcomer runs: the demo desk's config as shipped, with no `authentication`
 * override, so the default policy (spam and virus required, neither computable locally) decides.
 * Through `ingest` here; through `serve` in test/local/serve-command.test.ts and the README test.
 */

const customerMail = [
  'From: Ada Lovelace <ada@customer.example>',
  'To: support+demo@desk.localhost',
  'Subject: The default path',
  'Date: Wed, 02 Dec 2026 10:00:00 +0000',
  'Message-ID: <default-path@customer.example>',
  'Content-Type: text/plain; charset=utf-8',
  '',
  'Hello, does the desk work out of the box?',
  '',
].join('\r\n');

describe('the default path through ingest', () => {
  it.each([
    ['no config at all (the demo desk)', false],
    ['the config postdesk init writes, unmodified', true],
  ])('%s: issue_created', async (_label, withConfig) => {
    // Prepare
    const cwd = await tempDir('default-path');
    if (withConfig) await writeFile(join(cwd, 'postdesk.config.yaml'), DEMO_CONFIG_TEXT);
    expect(DEMO_CONFIG_TEXT).not.toMatch(/^authentication:/m);
    const file = join(cwd, 'mail.eml');
    await writeFile(file, customerMail);
    const run = bufferIo({ cwd });
    // Act
    const code = await main(['ingest', file, '--json'], run.io);
    // Assess
    expect(code, run.stderr()).toBe(0);
    // One JSON line per mail (its trace), then the summary.
    const [trace] = run
      .stdout()
      .trim()
      .split('\n')
      .map((line) => JSON.parse(line) as Record<string, unknown>);
    expect(trace).toMatchObject({ outcome: 'issue', reason: 'issue_created' });
    const issue = await readFile(join(cwd, '.postdesk/forge/demo/support/issues/1.md'), 'utf8');
    expect(issue).toContain('title: The default path');
  });
});
