import { mkdtempSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { describe, expect, it } from 'vitest';
import { buildFunction, findFunctions } from '../../../scripts/build.ts';

/**
 * The bundle the Lambda runtime loads: built with the real build script, then imported as the runtime
 * would (an ES module, `handler` export), with nothing left to resolve from node_modules.
 */
describe('inbound bundle', () => {
  it('builds to one self-contained ESM file that exports handler', async () => {
    // Prepare
    const outDir = mkdtempSync(join(tmpdir(), 'postdesk-build-'));

    // Act
    const report = await buildFunction('inbound', { outDir });
    const code = readFileSync(join(outDir, 'inbound', 'index.mjs'), 'utf8');
    const module = (await import(pathToFileURL(join(outDir, 'inbound', 'index.mjs')).href)) as {
      handler?: unknown;
    };

    // Assess
    expect(await findFunctions()).toContain('inbound');
    expect(typeof module.handler).toBe('function');
    expect(report.awsSdkBytes).toBeGreaterThan(0);
    expect(report.bytes).toBe(Buffer.byteLength(code));
    // The SDK is inside the bundle, not imported from the runtime's copy.
    expect(code).not.toMatch(/from\s*["']@aws-sdk\//);
    expect(code.startsWith("import { createRequire as __postdeskCreateRequire } from 'node:module';")).toBe(
      true,
    );
  }, 120_000);
});
