import { existsSync, mkdtempSync, readdirSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { App, Duration, Stack } from 'aws-cdk-lib';
import * as logs from 'aws-cdk-lib/aws-logs';
import { afterEach, describe, expect, it } from 'vitest';
import { DeskFunction } from '../../infra/constructs/desk-function.ts';
import { RuleSetGuard } from '../../infra/constructs/rule-set-guard.ts';
import { SYNTH_TIMEOUT } from './support.ts';

const PROBE = fileURLToPath(new URL('./fixtures/bundle-probe.ts', import.meta.url));
const dockerBefore = process.env['CDK_DOCKER'];

afterEach(() => {
  if (dockerBefore === undefined) delete process.env['CDK_DOCKER'];
  else process.env['CDK_DOCKER'] = dockerBefore;
});

describe('function bundling', () => {
  it(
    'bundles with esbuild from node_modules into an ESM file, never with Docker',
    () => {
      // Prepare: any attempt to run Docker fails loudly
      process.env['CDK_DOCKER'] = '/nonexistent/docker';
      const outdir = mkdtempSync(join(tmpdir(), 'postdesk-bundle-'));
      const app = new App({ outdir });
      const stack = new Stack(app, 'Probe', { env: { region: 'eu-west-1' } });
      new DeskFunction(stack, 'Probe', {
        entry: PROBE,
        description: 'bundling probe',
        timeout: Duration.seconds(5),
        logRetention: logs.RetentionDays.ONE_DAY,
        serviceName: 'probe',
      });
      // Act
      app.synth();
      // Assess
      const assets = readdirSync(outdir).filter((name) => name.startsWith('asset.'));
      expect(assets).toHaveLength(1);
      const bundle = join(outdir, assets[0] ?? '', 'index.mjs');
      expect(existsSync(bundle)).toBe(true);
      const code = readFileSync(bundle, 'utf8');
      expect(code).toContain('postdeskCreateRequire');
      expect(code).toContain('bundled');
    },
    SYNTH_TIMEOUT,
  );

  it(
    'bundles the rule set guard into a small ESM file that uses the runtime SDK',
    () => {
      // Prepare
      process.env['CDK_DOCKER'] = '/nonexistent/docker';
      const outdir = mkdtempSync(join(tmpdir(), 'postdesk-bundle-'));
      const app = new App({ outdir });
      const stack = new Stack(app, 'Guard', { env: { region: 'eu-west-1' } });
      new RuleSetGuard(stack, 'Guard', {
        ruleSetName: 'postdesk-receipt-rules',
        ruleNames: ['postdesk-inbound'],
        mode: 'create',
        logRetention: logs.RetentionDays.ONE_DAY,
      });
      // Act
      app.synth();
      // Assess
      const asset = readdirSync(outdir).find((name) => name.startsWith('asset.')) ?? '';
      const code = readFileSync(join(outdir, asset, 'index.mjs'), 'utf8');
      expect(code).toMatch(/from\s*"@aws-sdk\/client-ses"/);
      expect(Buffer.byteLength(code)).toBeLessThan(20_000);
    },
    SYNTH_TIMEOUT,
  );
});
