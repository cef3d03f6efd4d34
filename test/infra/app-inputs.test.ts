import { spawnSync } from 'node:child_process';
import { mkdtempSync, readdirSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { type ResolveAppInputsProps, resolveAppInputs } from '../../infra/app-inputs.ts';
import { DeployInputError } from '../../infra/inputs.ts';
import { EXAMPLE_CONFIG, REPO_ROOT } from '../../infra/paths.ts';
import {
  inboundRegionProblem,
  SES_INBOUND_REGION_SOURCES,
  SES_INBOUND_REGIONS,
} from '../../infra/regions.ts';
import { EXAMPLE_CONFIG_TEXT } from './support.ts';

const OWN_CONFIG = EXAMPLE_CONFIG_TEXT.replaceAll('desk.example.com', 'help.acme.test');

/** A working directory holding `postdesk.config.yaml` with `text`, or nothing. */
const workdir = (text?: string): string => {
  const dir = mkdtempSync(join(tmpdir(), 'postdesk-app-'));
  if (text !== undefined) writeFileSync(join(dir, 'postdesk.config.yaml'), text);
  return dir;
};

const resolveWith = (props: Partial<ResolveAppInputsProps>) =>
  resolveAppInputs({ context: {}, env: {}, cwd: workdir(OWN_CONFIG), ...props });

const problemsOf = (props: Partial<ResolveAppInputsProps>): DeployInputError => {
  try {
    resolveWith(props);
  } catch (error) {
    if (error instanceof DeployInputError) return error;
    throw error;
  }
  throw new Error('expected a DeployInputError');
};

describe('region (issue 19, item 1)', () => {
  it('refuses a synth with no region and names the fix', () => {
    const error = problemsOf({ env: {} });
    expect(error.message).toMatch(/Fix: pass -c region=<region> or set AWS_REGION/);
  });

  it('never takes CDK_DEFAULT_REGION on its own', () => {
    const error = problemsOf({ env: { CDK_DEFAULT_REGION: 'eu-west-1' } });
    expect(error.problems.map((p) => p.path)).toEqual(['region']);
  });

  it('takes AWS_REGION when -c region is not given', () => {
    const { inputs } = resolveWith({ env: { AWS_REGION: 'us-east-2', AWS_DEFAULT_REGION: 'eu-west-1' } });
    expect(inputs.options.region).toBe('us-east-2');
  });

  it('takes AWS_DEFAULT_REGION when AWS_REGION is not set', () => {
    const { inputs } = resolveWith({ env: { AWS_DEFAULT_REGION: 'eu-west-2' } });
    expect(inputs.options.region).toBe('eu-west-2');
  });

  it('prefers -c region to the environment', () => {
    const { inputs } = resolveWith({ context: { region: 'eu-central-1' }, env: { AWS_REGION: 'us-east-1' } });
    expect(inputs.options.region).toBe('eu-central-1');
  });

  it('builds in no opt-in region: ap-southeast-3 needs additionalInboundRegions', () => {
    expect(inboundRegionProblem('ap-southeast-3')).toMatch(/-c additionalInboundRegions=ap-southeast-3/);
  });

  it('accepts an opt-in region named in additionalInboundRegions', () => {
    const { inputs } = resolveWith({
      context: { region: 'ap-southeast-3', additionalInboundRegions: 'ap-southeast-3' },
    });
    expect(inputs.options.region).toBe('ap-southeast-3');
  });

  it('cites a public AWS page and a date for every built-in region', () => {
    for (const entry of SES_INBOUND_REGION_SOURCES) {
      expect(entry.source).toMatch(/^https:\/\/(docs\.)?aws\.amazon\.com\//);
      expect(entry.checked).toMatch(/^\d{4}-\d{2}-\d{2}$/);
    }
    expect(SES_INBOUND_REGIONS).not.toContain('ap-southeast-3');
  });

  it('cites no local file in the infrastructure code', () => {
    const files = (dir: string): string[] =>
      readdirSync(dir).flatMap((name) => {
        const path = join(dir, name);
        return statSync(path).isDirectory() ? files(path) : [path];
      });
    const infra = fileURLToPath(new URL('../../infra', import.meta.url));
    const offenders = files(infra).filter((path) =>
      /\/work\/|\.\.\/shared\/|shared\/reference/.test(readFileSync(path, 'utf8')),
    );
    expect(offenders).toEqual([]);
  });
});

describe('the example config (issue 19, item 2)', () => {
  it('refuses a missing postdesk.config.yaml', () => {
    const error = problemsOf({ cwd: workdir(), context: { region: 'eu-west-1' } });
    expect(error.message).toMatch(/no postdesk\.config\.yaml in .*-c allowExampleConfig=true/s);
  });

  it('refuses a postdesk.config.yaml that is the example, unedited', () => {
    const error = problemsOf({ cwd: workdir(EXAMPLE_CONFIG_TEXT), context: { region: 'eu-west-1' } });
    expect(error.message).toMatch(/is the example config \(domain desk\.example\.com\)/);
  });

  it('refuses -c config pointing at infra/example.config.yaml', () => {
    const error = problemsOf({ context: { region: 'eu-west-1', config: EXAMPLE_CONFIG } });
    expect(error.problems.map((p) => p.path)).toEqual(['config']);
  });

  it('synthesizes the example with -c allowExampleConfig=true, and says so', () => {
    const { warnings } = resolveWith({
      cwd: workdir(),
      context: { region: 'eu-west-1', allowExampleConfig: 'true' },
    });
    expect(warnings).toEqual([expect.stringMatching(/synthesizing the example config .*never deploy it/)]);
  });

  it('reports the missing region and the missing config together', () => {
    const error = problemsOf({ cwd: workdir(), context: {}, env: {} });
    expect(error.problems.map((p) => p.path).sort()).toEqual(['config', 'region']);
  });

  it('accepts a config of our own without a warning', () => {
    const { warnings } = resolveWith({ context: { region: 'eu-west-1' } });
    expect(warnings).toEqual([]);
  });
});

describe('infra/bin/app.ts', () => {
  it('exits non-zero, builds nothing and says both fixes when run with no region and no config', () => {
    // Prepare: an empty directory, no region anywhere but the CLI's own default
    const cwd = workdir();
    const env = { PATH: process.env['PATH'] ?? '', HOME: cwd, CDK_DEFAULT_REGION: 'eu-west-1' };
    // Act
    const run = spawnSync(join(REPO_ROOT, 'node_modules/.bin/tsx'), [join(REPO_ROOT, 'infra/bin/app.ts')], {
      cwd,
      env,
      encoding: 'utf8',
      timeout: 60_000,
    });
    // Assess
    expect(run.status).toBe(1);
    expect(run.stderr).toContain('-c region=<region> or set AWS_REGION');
    expect(run.stderr).toContain('-c allowExampleConfig=true');
  });
});
