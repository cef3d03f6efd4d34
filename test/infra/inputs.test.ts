import { App, Stack } from 'aws-cdk-lib';
import * as kms from 'aws-cdk-lib/aws-kms';
import * as logs from 'aws-cdk-lib/aws-logs';
import { describe, expect, it } from 'vitest';
import { MailReceiving } from '../../infra/constructs/mail-receiving.ts';
import {
  DEAD_LETTER_RETENTION_DAYS,
  DeployInputError,
  type ReadDeployInputsProps,
  readDeployInputs,
  ruleRecipients,
} from '../../infra/inputs.ts';
import { SES_INBOUND_REGIONS } from '../../infra/regions.ts';
import { EXAMPLE_CONFIG_TEXT } from './support.ts';

const read = (overrides: Partial<ReadDeployInputsProps> = {}) =>
  readDeployInputs({
    configText: EXAMPLE_CONFIG_TEXT,
    configFile: 'postdesk.config.yaml',
    context: { region: 'eu-west-1' },
    ...overrides,
  });

const problemsOf = (overrides: Partial<ReadDeployInputsProps>): DeployInputError => {
  try {
    read(overrides);
  } catch (error) {
    if (error instanceof DeployInputError) return error;
    throw error;
  }
  throw new Error('expected a DeployInputError');
};

describe('deploy inputs', () => {
  it('accepts the example config with a region and fills the documented defaults', () => {
    // Act
    const { options } = read();
    // Assess
    expect(options).toMatchObject({
      region: 'eu-west-1',
      ruleSetMode: 'create',
      ruleSetName: 'postdesk-receipt-rules',
      ruleName: 'postdesk-inbound',
      maxConcurrency: 2,
      mailRetentionDays: 30,
      terminationProtection: true,
    });
    expect(options.mailRetentionDays).toBeGreaterThan(DEAD_LETTER_RETENTION_DAYS);
  });

  it('refuses a region where SES cannot receive mail and names the regions that can', () => {
    // Act
    const error = problemsOf({ context: { region: 'ap-northeast-3' } });
    // Assess
    expect(error.problems).toHaveLength(1);
    expect(error.message).toContain('SES cannot receive mail in ap-northeast-3');
    for (const region of SES_INBOUND_REGIONS) expect(error.message).toContain(region);
  });

  it('asks for an explicit region when none is resolved (environment-agnostic stacks)', () => {
    const error = problemsOf({ context: {}, environment: {} });
    expect(error.problems[0]?.path).toBe('region');
    expect(error.message).toContain('no explicit AWS region');
    expect(error.message).toContain('-c region=');
  });

  it('takes the region the CDK CLI resolved, and a region added by -c additionalInboundRegions', () => {
    expect(read({ context: {}, environment: { region: 'us-west-2' } }).options.region).toBe('us-west-2');
    const { options } = read({ context: { region: 'eu-north-1', additionalInboundRegions: 'eu-north-1' } });
    expect(options.region).toBe('eu-north-1');
  });

  it('reports both mistakes of a config with two, each with its line', () => {
    // Prepare
    const configText = `domain: desk.example.com
forge: { kind: gitlab, url: https://gitlab.example.com }
projects:
  - path: acme/game
    key: Game
    colour: red
`;
    // Act
    const error = problemsOf({ configText });
    // Assess
    expect(error.problems.map((p) => `${p.path}:${p.line}`).sort()).toEqual([
      'projects.0.colour:6',
      'projects.0.key:5',
    ]);
    expect(error.message).toContain('postdesk.config.yaml:5');
    expect(error.message).toContain('postdesk.config.yaml:6');
  });

  it('reports config and context problems together, before anything is built', () => {
    // Act
    const error = problemsOf({
      configText: EXAMPLE_CONFIG_TEXT.replace('key: web', 'key: Web'),
      context: {
        region: 'ap-northeast-3',
        ruleSetMode: 'activate',
        maxConcurrency: '1',
        ruleSetmode: 'existing',
      },
    });
    // Assess
    expect(error.problems.map((p) => `${p.source} ${p.path}`).sort()).toEqual([
      'cdk context maxConcurrency',
      'cdk context region',
      'cdk context ruleSetMode',
      'cdk context ruleSetmode',
      'postdesk.config.yaml projects.1.key',
    ]);
  });

  it('reads -c values given as strings', () => {
    const { options } = read({
      context: {
        region: 'eu-west-1',
        requireTls: 'true',
        terminationProtection: 'false',
        maxConcurrency: '4',
      },
    });
    expect(options).toMatchObject({ requireTls: true, terminationProtection: false, maxConcurrency: 4 });
  });

  it('refuses raw mail that would expire before its dead letter', () => {
    const error = problemsOf({
      context: { region: 'eu-west-1', mailRetentionDays: DEAD_LETTER_RETENTION_DAYS },
    });
    expect(error.problems[0]?.path).toBe('mailRetentionDays');
  });

  it('needs the existing rule set name in existing mode, and no such name otherwise', () => {
    expect(problemsOf({ context: { region: 'eu-west-1', ruleSetMode: 'existing' } }).problems[0]?.path).toBe(
      'existingRuleSetName',
    );
    expect(
      problemsOf({ context: { region: 'eu-west-1', existingRuleSetName: 'team-rules' } }).problems[0]?.path,
    ).toBe('existingRuleSetName');
  });

  it('refuses a hosted zone that does not hold the desk domain, and half a zone', () => {
    const other = problemsOf({
      context: { region: 'eu-west-1', hostedZoneId: 'Z0123456789', hostedZoneName: 'example.org' },
    });
    expect(other.problems[0]?.path).toBe('hostedZoneName');
    const half = problemsOf({ context: { region: 'eu-west-1', hostedZoneId: 'Z0123456789' } });
    expect(half.problems[0]?.path).toBe('hostedZoneName');
  });

  it('makes the desk domain and the aliases outside it the recipients of the rule', () => {
    // Prepare
    const { config } = read({
      configText: `${EXAMPLE_CONFIG_TEXT}    aliases: [Help@Acme.example, web@desk.example.com]\n`,
    });
    // Act / Assess
    expect(ruleRecipients(config)).toEqual(['desk.example.com', 'help@acme.example']);
  });

  it('refuses, in the construct too, a stack whose region SES cannot receive in', () => {
    // Prepare
    const stack = new Stack(new App(), 'Osaka', { env: { region: 'ap-northeast-3' } });
    // Act
    const build = () =>
      new MailReceiving(stack, 'Receiving', {
        ruleSetMode: 'create',
        ruleSetName: 'rules',
        ruleName: 'rule',
        recipients: ['desk.example.com'],
        requireTls: false,
        bucketName: 'bucket',
        objectKeyPrefix: 'mail/',
        encryptionKey: new kms.Key(stack, 'Key'),
        logRetention: logs.RetentionDays.ONE_MONTH,
      });
    // Assess
    expect(build).toThrow(/SES cannot receive mail in ap-northeast-3; regions with SES inbound: us-east-1/);
  });
});
