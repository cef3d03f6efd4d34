import { mkdtempSync, readdirSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { App, Duration, Stack } from 'aws-cdk-lib';
import * as logs from 'aws-cdk-lib/aws-logs';
import { afterAll, describe, expect, it } from 'vitest';
import { DeskFunction } from '../../infra/constructs/desk-function.ts';
import { buildFunction } from '../../scripts/build.ts';

const INBOUND = fileURLToPath(new URL('../../functions/inbound/handler.ts', import.meta.url));
const dirs: string[] = [];
const tempDir = (prefix: string): string => {
  const dir = mkdtempSync(join(tmpdir(), prefix));
  dirs.push(dir);
  return dir;
};

afterAll(() => {
  for (const dir of dirs) rmSync(dir, { recursive: true, force: true });
});

describe('the CDK asset of the inbound function', () => {
  it('is the single-file bundle scripts/build.ts measures, stand-ins included (size within 1%)', async () => {
    // Prepare: the construct as the desk stack uses it, bundled by local esbuild
    const outdir = tempDir('postdesk-cdk-inbound-');
    const app = new App({ outdir });
    const stack = new Stack(app, 'Inbound', { env: { region: 'eu-west-1' } });
    new DeskFunction(stack, 'Inbound', {
      entry: INBOUND,
      description: 'inbound bundle size',
      timeout: Duration.seconds(30),
      logRetention: logs.RetentionDays.ONE_DAY,
      serviceName: 'postdesk-inbound',
    });
    // Act
    app.synth();
    const built = await buildFunction('inbound', {
      outDir: tempDir('postdesk-build-inbound-'),
      split: false,
    });
    // Assess
    const assets = readdirSync(outdir).filter((name) => name.startsWith('asset.'));
    expect(assets).toHaveLength(1);
    const cdkBytes = statSync(join(outdir, assets[0] ?? '', 'index.mjs')).size;
    expect(Math.abs(cdkBytes - built.bytes) / built.bytes).toBeLessThan(0.01);
    // Without the stand-ins the bundle is ~700 KB larger (iconv-lite, encoding-japanese).
    expect(built.packages.map((pkg) => pkg.name)).not.toContain('iconv-lite');
    expect(cdkBytes).toBeLessThan(1_400 * 1024);
  }, 180_000);
});
