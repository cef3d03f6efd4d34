import { stat, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { parseDeskSecretOrThrow } from '../../adapters/aws/secret-document.ts';
import { ensureLocalSecret, LocalSecretFile } from '../../adapters/local/secret-file.ts';
import { tempDir } from './support.ts';

describe('the local secret on first run', () => {
  it('is created with random webhook_token and reply_key, mode 0600', async () => {
    // Prepare
    const dataDir = await tempDir('first-secret');
    // Act
    const first = await ensureLocalSecret({ dataDir, env: {} });
    // Assess
    expect(first).toEqual({ created: true, path: join(dataDir, 'secret.enc') });
    expect((await stat(first.path)).mode & 0o777).toBe(0o600);
    expect((await stat(join(dataDir, 'master.key'))).mode & 0o777).toBe(0o600);
    const text = (await new LocalSecretFile({ dataDir, env: {} }).readText()) ?? '';
    const secret = parseDeskSecretOrThrow(text, first.path);
    expect(secret.webhook_token).toMatch(/^[A-Za-z0-9_-]{43}$/);
    expect(secret.reply_key).toMatch(/^[A-Za-z0-9_-]{43}$/);
    expect(secret.webhook_token).not.toBe(secret.reply_key);
    expect(secret.forge_token).toBeUndefined();
  });

  it('gives every desk its own tokens', async () => {
    const read = async () => {
      const dataDir = await tempDir('first-secret-each');
      await ensureLocalSecret({ dataDir, env: {} });
      return parseDeskSecretOrThrow((await new LocalSecretFile({ dataDir, env: {} }).readText()) ?? '', 'x');
    };
    const [a, b] = await Promise.all([read(), read()]);
    expect(a.webhook_token).not.toBe(b.webhook_token);
    expect(a.reply_key).not.toBe(b.reply_key);
  });

  it('never changes a secret that exists, even one it cannot read', async () => {
    // Prepare
    const dataDir = await tempDir('first-secret-kept');
    const file = new LocalSecretFile({ dataDir, env: {} });
    await file.writeText('forge_token: glpat-kept-0001\n');
    const undecryptable = await tempDir('first-secret-foreign');
    await writeFile(join(undecryptable, 'secret.enc'), 'not ours\n');
    // Act
    const kept = await ensureLocalSecret({ dataDir, env: {} });
    const foreign = await ensureLocalSecret({ dataDir: undecryptable, env: {} });
    // Assess
    expect(kept.created).toBe(false);
    expect(await file.readText()).toBe('forge_token: glpat-kept-0001\n');
    expect(foreign.created).toBe(false);
  });

  it('creates one secret when two starts race', async () => {
    const dataDir = await tempDir('first-secret-race');
    const results = await Promise.all([1, 2, 3].map(() => ensureLocalSecret({ dataDir, env: {} })));
    expect(results.filter((result) => result.created)).toHaveLength(1);
  });
});
