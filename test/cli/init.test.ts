import { readFile, stat, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { demoConfig } from '../../cli/demo-config.ts';
import { loadConfigFile } from '../../cli/io.ts';
import { main } from '../../cli/main.ts';
import { tempDir } from '../local/support.ts';
import { bufferIo } from '../support/cli-io.ts';

describe('postdesk init', () => {
  it('writes a commented config that loads as the demo desk', async () => {
    // Prepare
    const cwd = await tempDir('init');
    const run = bufferIo({ cwd });
    // Act
    const code = await main(['init'], run.io);
    // Assess
    expect(code).toBe(0);
    const path = join(cwd, 'postdesk.config.yaml');
    expect(run.stdout()).toContain(`wrote ${path}`);
    const text = await readFile(path, 'utf8');
    expect(text.split('\n').filter((line) => line.trimStart().startsWith('#')).length).toBeGreaterThan(10);
    expect(await loadConfigFile(path)).toEqual(demoConfig());
    expect((await stat(path)).mode & 0o777).toBe(0o644);
  });

  it('never overwrites a config that exists', async () => {
    // Prepare
    const cwd = await tempDir('init-exists');
    const path = join(cwd, 'postdesk.config.yaml');
    await writeFile(path, 'domain: mine.example\n');
    const run = bufferIo({ cwd });
    // Act
    const code = await main(['init'], run.io);
    // Assess
    expect(code).toBe(1);
    expect(run.stderr()).toContain(`${path} exists; init never overwrites it`);
    expect(await readFile(path, 'utf8')).toBe('domain: mine.example\n');
  });

  it('writes where --config says, and answers --json', async () => {
    const cwd = await tempDir('init-json');
    const run = bufferIo({ cwd });
    expect(await main(['init', '--config', 'desk.yaml', '--json'], run.io)).toBe(0);
    expect(JSON.parse(run.stdout())).toEqual({ written: join(cwd, 'desk.yaml') });
  });

  it('is listed in --help', async () => {
    const run = bufferIo({ cwd: await tempDir('init-help') });
    await main(['--help'], run.io);
    expect(run.stdout()).toMatch(/^ {2}init +write a commented postdesk\.config\.yaml/m);
    expect(run.stdout()).toMatch(/^ {2}reply +answer a ticket of the local file forge/m);
    const serve = bufferIo({ cwd: await tempDir('serve-help') });
    await main(['serve', '--help'], serve.io);
    expect(serve.stdout()).toContain('The console, http://127.0.0.1:8025/');
    const reply = bufferIo({ cwd: await tempDir('reply-help') });
    await main(['reply', '--help'], reply.io);
    expect(reply.stdout()).toMatch(/^Usage: postdesk reply <project>#<iid>/);
  });
});
