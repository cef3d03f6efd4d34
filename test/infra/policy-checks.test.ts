import { mkdtempSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import * as s3 from 'aws-cdk-lib/aws-s3';
import { describe, expect, it } from 'vitest';
import { buildDeskApp, SYNTH_TIMEOUT, TEST_REGION } from './support.ts';

/** The parts of `policy-validation-report.json` (cdk.json: `@aws-cdk/core:validationReportJson`) read here. */
interface ValidationReport {
  pluginReports: {
    summary: { pluginName: string; status: string };
    violations: { ruleName: string; violatingResources: { constructPath?: string }[] }[];
  }[];
}

const OUR_PACKS = ['AwsSolutions', 'Postdesk'];

/** Unacknowledged findings of our packs, as `rule id @ construct path`. */
const findingsIn = (outdir: string): string[] => {
  const report = JSON.parse(
    readFileSync(join(outdir, 'policy-validation-report.json'), 'utf8'),
  ) as ValidationReport;
  return report.pluginReports
    .filter((plugin) => OUR_PACKS.includes(plugin.summary.pluginName))
    .flatMap((plugin) =>
      plugin.violations.flatMap((violation) =>
        violation.violatingResources.map((resource) => `${violation.ruleName} @ ${resource.constructPath}`),
      ),
    );
};

describe('policy checks (cdk-nag AwsSolutions and Postdesk rules)', () => {
  it.each(['create', 'create-and-activate'])(
    'leave no unacknowledged finding in the policy validation report (ruleSetMode=%s)',
    (ruleSetMode) => {
      // Prepare: as `cdk synth` runs offline: an explicit region, no account
      const outdir = mkdtempSync(join(tmpdir(), 'postdesk-nag-'));
      const desk = buildDeskApp({ outdir, context: { region: TEST_REGION, ruleSetMode } });
      // Act
      desk.app.synth();
      // Assess
      expect(findingsIn(outdir)).toEqual([]);
    },
    SYNTH_TIMEOUT,
  );

  it(
    'are live: an unacknowledged bucket fails the synth and is in the report',
    () => {
      // Prepare
      const outdir = mkdtempSync(join(tmpdir(), 'postdesk-nag-'));
      const desk = buildDeskApp({ outdir });
      new s3.Bucket(desk.stateless, 'Unchecked');
      // Act / Assess
      expect(() => desk.app.synth()).toThrow(/AwsSolutions-S1/);
      expect(findingsIn(outdir)).toContain('AwsSolutions-S1 @ postdesk-stateless/Unchecked/Resource');
    },
    SYNTH_TIMEOUT,
  );
});
