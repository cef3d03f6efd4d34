import { S3Client } from '@aws-sdk/client-s3';
import { mockClient } from 'aws-sdk-client-mock';
import { afterAll, afterEach, beforeEach, describe, expect, it } from 'vitest';
import { captureStdout } from '../aws/log-capture.ts';
import { sqsEvent } from '../functions/inbound/events.ts';
import { cpuMs } from '../support/cpu-time.ts';
import { createMemoryForge } from '../support/memory-forge.ts';
import { SCALED_SHAPES } from './arbitraries.ts';
import { corpusMails, projectMails } from './corpus.ts';
import { setupInbound } from './inbound.ts';
import { createHarness, expectDecision, OUTCOMES, passingVerdicts } from './support.ts';

/**
 * The hostile corpus (STYLE.md: mailparser's `test/hostile-input-test.js`): every mail file under
 * test/fixtures/ through the whole pipeline. mailparser's own hostile cases are in
 * corpus/emails/mailparser/ (htmllargecallstack.eml: HTML deep enough to blow a recursive
 * converter's stack; outofmemory.eml and large_text.eml: a megabyte of text in one part; spam.eml;
 * mixed.eml: no From at all), next to malformed and mislabelled charsets, and the project's own
 * hostile shapes (binary garbage, 21 nested multiparts, 501 parts, truncated mail, `__proto__`
 * headers).
 *
 * Defences guarded: the parse caps and the "bad input is a value" rule (core/stages/parse), render's
 * catch-all to quarantine (core/stages/render/issue.ts), the pipeline's quarantine of anything
 * non-transient (core/pipeline.ts), the ledger (a second run of the corpus makes nothing new).
 */

const ALL = [...corpusMails(), ...projectMails()];

/** The corpus files mailparser publishes as hostile, by name, with what must happen to them. */
const MAILPARSER_HOSTILE: Record<string, (outcome: string) => boolean> = {
  'corpus/emails/mailparser/htmllargecallstack.eml': (outcome) => outcome === 'issue',
  'corpus/emails/mailparser/outofmemory.eml': (outcome) => outcome === 'issue',
  'corpus/emails/mailparser/large_text.eml': (outcome) => OUTCOMES.includes(outcome),
  'corpus/emails/mailparser/spam.eml': (outcome) => outcome === 'issue',
  // No From at all: nobody can be named as its author, so it is kept for a person (from_missing).
  'corpus/emails/mailparser/mixed.eml': (outcome) => outcome === 'quarantined',
};

describe('hostile corpus through the whole pipeline', () => {
  it('has every hostile fixture mailparser publishes', () => {
    const names = new Set(ALL.map((mail) => mail.name));
    for (const name of Object.keys(MAILPARSER_HOSTILE)) expect(names).toContain(name);
    expect(ALL.length).toBeGreaterThanOrEqual(100);
  });

  it.each(ALL.map((mail) => [mail.name, mail] as const))(
    '%s: a decision with a reason, no throw',
    async (_name, mail) => {
      // Prepare
      const harness = createHarness();

      // Act
      const trace = await harness.ingest(mail.bytes);

      // Assess
      expectDecision(trace);
      expect(harness.raw.keys()).toEqual([`mail/mail-1`]);
      const expectation = MAILPARSER_HOSTILE[mail.name];
      if (expectation) expect(expectation(trace.outcome), `${trace.outcome}: ${trace.reason}`).toBe(true);
    },
  );

  it('with spam and virus verdicts FAIL, every mail is quarantined or stopped earlier, never delivered', async () => {
    const forge = createMemoryForge();
    const harness = createHarness({ forge });
    for (const mail of ALL) {
      const trace = await harness.ingest(mail.bytes, {
        verdicts: { ...passingVerdicts(), spam: 'FAIL', virus: 'FAIL' },
      });
      expectDecision(trace);
      expect(['quarantined', 'rejected', 'dropped']).toContain(trace.outcome);
    }
    expect(forge.calls.filter((call) => call.method === 'createIssue' || call.method === 'addNote')).toEqual(
      [],
    );
  });

  it('a second run of the whole corpus (SQS redelivering everything) makes no second issue', async () => {
    const forge = createMemoryForge();
    const harness = createHarness({ forge });
    const first = [];
    for (const [index, mail] of ALL.entries())
      first.push(await harness.ingest(mail.bytes, { id: `corpus-${index}` }));
    const issues = forge.issues('acme/game').length;
    expect(issues).toBe(first.filter((trace) => trace.outcome === 'issue').length);

    for (const [index, mail] of ALL.entries()) {
      const again = await harness.ingest(mail.bytes, { id: `corpus-${index}` });
      expect(again.outcome).toBe(first[index]?.outcome);
      if (again.outcome === 'issue') expect(again.reason).toBe('duplicate_delivery');
    }
    expect(forge.issues('acme/game')).toHaveLength(issues);
  });

  it('run time grows linearly with size: t(2n)/t(n) well under 4 for every scaled shape', async () => {
    // Fastest of three runs at each size: a busy machine can only slow a run down, so the minimum is
    // the least noisy estimate. Linear is about 2, quadratic about 4; the bound is generous on
    // purpose, and bench/fuzz.ts prints the exact ratios.
    const fastest = async (bytes: Buffer): Promise<number> => {
      let best = Number.POSITIVE_INFINITY;
      for (let run = 0; run < 3; run++) {
        const harness = createHarness();
        const started = cpuMs();
        expectDecision(await harness.ingest(bytes));
        best = Math.min(best, cpuMs() - started);
      }
      return best;
    };
    // The shapes whose cost is in text handling (regular expressions on untrusted text); the part
    // walker and attachment streaming are timed by the bench, where runs are not limited.
    const shapes = ['long_line', 'quoted_lines', 'many_headers', 'encoded_subject', 'nested_html'].map(
      (name) => [name, SCALED_SHAPES[name]] as const,
    );
    for (const [, shape] of shapes) if (shape) await fastest(shape.make(4096));
    for (const [name, shape] of shapes) {
      if (!shape) throw new Error(`no scaled shape ${name}`);
      const n = shape.bytes;
      const small = await fastest(shape.make(n));
      const large = await fastest(shape.make(2 * n));
      // Below 100 ms of CPU the ratio measures garbage collection, not the algorithm; quadratic work
      // at these sizes takes seconds, and such a shape is fast enough either way.
      if (large < 100) continue;
      expect(large / small, `${name}: ${small.toFixed(1)} ms -> ${large.toFixed(1)} ms`).toBeLessThan(3.5);
    }
  });
});

describe('hostile corpus through the inbound handler (mocked S3)', () => {
  const s3 = mockClient(S3Client);
  let capture: ReturnType<typeof captureStdout>;
  beforeEach(() => {
    s3.reset();
    capture = captureStdout();
  });
  afterEach(() => capture.restore());
  afterAll(() => s3.restore());

  it('decides every mail in batches of ten, fails no record, deletes no raw mail', async () => {
    const { invoke, arrive, rawDeletes } = setupInbound(s3);
    for (let offset = 0; offset < ALL.length; offset += 10) {
      const records = ALL.slice(offset, offset + 10).map((mail, index) =>
        arrive(`corpus-${offset + index}`, mail.bytes),
      );
      expect(await invoke(sqsEvent(...records))).toEqual({ batchItemFailures: [] });
    }
    const decisions = capture.json().filter((line) => line['message'] === 'decision');
    expect(decisions).toHaveLength(ALL.length);
    expect(rawDeletes()).toEqual([]);
  });
});
