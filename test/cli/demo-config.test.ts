import { mkdtemp } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { demoConfig } from '../../cli/demo-config.ts';
import { loadConfigOrDemo } from '../../cli/io.ts';

const io = (cwd: string, env: NodeJS.ProcessEnv = {}) => ({
  stdout: process.stdout,
  stderr: process.stderr,
  stdin: process.stdin,
  env,
  cwd,
});

describe('zero-config start', () => {
  it('the demo desk parses with the config schema', () => {
    const config = demoConfig();
    expect(config.domain).toBe('desk.localhost');
    expect(config.mailbox).toBe('support');
    expect(config.forge).toEqual({ kind: 'file' });
    expect(config.projects.map((p) => [p.path, p.key])).toEqual([['demo/support', 'demo']]);
  });

  it('a fresh directory with no config gets the demo desk', async () => {
    const cwd = await mkdtemp(join(tmpdir(), 'postdesk-demo-'));
    const loaded = await loadConfigOrDemo(undefined, io(cwd));
    expect(loaded.demo).toBe(true);
    expect(loaded.config.domain).toBe('desk.localhost');
  });

  it('an explicitly named config that is missing still fails, naming the file', async () => {
    const cwd = await mkdtemp(join(tmpdir(), 'postdesk-demo-'));
    await expect(loadConfigOrDemo('missing.yaml', io(cwd))).rejects.toThrow(/missing\.yaml not found/);
    await expect(loadConfigOrDemo(undefined, io(cwd, { POSTDESK_CONFIG: 'other.yaml' }))).rejects.toThrow(
      /other\.yaml not found/,
    );
  });
});
