import { execFile } from 'node:child_process';
import { mkdtemp, readdir, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { promisify } from 'node:util';
import { beforeAll, describe, expect, it } from 'vitest';
import { main } from '../../cli/main.ts';
import { bufferIo } from '../support/cli-io.ts';

const fixtures = resolve(import.meta.dirname, '../fixtures/mail/cli');
const repo = resolve(import.meta.dirname, '../..');
const config = `domain: desk.example.com
mailbox: support
forge: { kind: gitlab, url: https://gitlab.example.com }
projects:
  - path: acme/game
    key: game
`;

let cwd: string;
beforeAll(async () => {
  cwd = await mkdtemp(join(tmpdir(), 'postdesk-explain-'));
  await writeFile(join(cwd, 'postdesk.config.yaml'), config);
});

const explainJson = async (file: string, extra: string[] = []) => {
  const run = bufferIo({ cwd });
  const code = await main(['explain', join(fixtures, file), '--json', ...extra], run.io);
  return { code, trace: JSON.parse(run.stdout()), stderr: run.stderr() };
};

describe('postdesk explain', () => {
  it('makes an issue from a plain customer mail to support+game@', async () => {
    // Act
    const { code, trace } = await explainJson('customer.eml');
    // Assess
    expect(code).toBe(0);
    expect(trace.outcome).toBe('issue');
    expect(trace.route.project).toBe('acme/game');
    expect(trace.issue.title).toBe('The game crashes on level 3');
    expect(trace.issue.description).toContain('crashes when I open the map');
    expect(trace.stages.map((stage: { stage: string }) => stage.stage)).toEqual([
      'load',
      'parse',
      'authenticate',
      'classify',
      'route',
      'policy',
      'thread',
      'render',
      'deliver',
    ]);
  });

  it.each([
    ['auto-reply.eml', 'auto_reply', 'auto_submitted'],
    ['out-of-office.eml', 'out_of_office', 'auto_submitted_vacation'],
    ['bulk.eml', 'bulk', 'precedence_bulk'],
    ['bounce-ses-dsn.eml', 'bounce', 'mailer_daemon_sender'],
  ])('drops %s as %s with reason %s', async (file, kind, reason) => {
    // Act
    const { code, trace } = await explainJson(file, ['--recipient', 'support+game@desk.example.com']);
    // Assess
    expect(code).toBe(0);
    expect(trace.outcome).toBe('dropped');
    expect(trace.reason).toBe(reason);
    expect(trace.stages.find((stage: { stage: string }) => stage.stage === 'classify').verdict).toBe(kind);
    expect(trace.issue).toBeUndefined();
  });

  it('accept-bulk-ignored: a project with accept_bulk makes an issue from bulk mail', async () => {
    // Prepare
    const accepting = join(cwd, 'accept-bulk.yaml');
    await writeFile(accepting, config.replace('    key: game\n', '    key: game\n    accept_bulk: true\n'));
    // Act
    const { code, trace } = await explainJson('bulk.eml', ['--config', accepting]);
    // Assess
    expect(code).toBe(0);
    expect(trace.outcome).toBe('issue');
    expect(trace.issue.title).toBe('This week in games');
  });

  it('group-syntax From: quarantined from_invalid, attributed to nobody', async () => {
    const { code, trace } = await explainJson('group-from.eml');
    expect(code).toBe(0);
    expect(trace.outcome).toBe('quarantined');
    expect(trace.reason).toBe('from_invalid');
    expect(trace.message).toContain('group syntax');
  });

  it('writes nothing: the data directory stays empty', async () => {
    // Prepare
    const dataDir = join(cwd, 'state-probe');
    // Act
    const run = bufferIo({ cwd });
    await main(['explain', join(fixtures, 'customer.eml'), '--data-dir', dataDir], run.io);
    // Assess
    await expect(readdir(dataDir)).rejects.toMatchObject({ code: 'ENOENT' });
    expect(run.stdout()).toContain('ISSUE in acme/game');
  });

  it('exits non-zero with a clear message for a missing file', async () => {
    const run = bufferIo({ cwd });
    const code = await main(['explain', join(cwd, 'nope.eml')], run.io);
    expect(code).toBe(1);
    expect(run.stderr()).toContain('nope.eml: no such file');
  });

  it('exits non-zero and lists every problem for a bad config', async () => {
    // Prepare
    const bad = join(cwd, 'bad.yaml');
    await writeFile(
      bad,
      'domain: desk.example.com\nforge: { kind: gitlab }\nprojects:\n  - path: acme/game\n    key: Game\n',
    );
    // Act
    const run = bufferIo({ cwd });
    const code = await main(['explain', join(fixtures, 'customer.eml'), '--config', bad], run.io);
    // Assess
    expect(code).toBe(3);
    expect(run.stderr()).toContain('bad.yaml:2 forge.url');
    expect(run.stderr()).toContain('bad.yaml:5 projects.0.key');
  });

  it('runs as the package binary (what npx postdesk runs)', async () => {
    // Act
    const { stdout } = await promisify(execFile)(
      process.execPath,
      [join(repo, 'cli/bin/postdesk.js'), 'explain', join(fixtures, 'customer.eml'), '--json'],
      { cwd },
    );
    // Assess
    expect(JSON.parse(stdout).outcome).toBe('issue');
  });
});
