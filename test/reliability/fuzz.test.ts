import { S3Client } from '@aws-sdk/client-s3';
import { mockClient } from 'aws-sdk-client-mock';
import fc from 'fast-check';
import { afterAll, afterEach, beforeEach, describe, expect, it } from 'vitest';
import { deskAddressMatcher } from '../../core/desk-addresses.ts';
import type { ReceiptVerdicts } from '../../core/model.ts';
import { classifyMail } from '../../core/stages/classify/index.ts';
import { MailClass } from '../../core/stages/contracts.ts';
import { parseMail } from '../../core/stages/parse/index.ts';
import { renderIssue, renderNote } from '../../core/stages/render/index.ts';
import { routeMail } from '../../core/stages/route/index.ts';
import { captureStdout } from '../aws/log-capture.ts';
import { sqsEvent } from '../functions/inbound/events.ts';
import { createMemoryForge } from '../support/memory-forge.ts';
import { anyMail, arbitraryBytes, envelopeRecipients, headerMail, mimeMail } from './arbitraries.ts';
import { setupInbound } from './inbound.ts';
import { createHarness, deskConfig, expectDecision, OUTCOMES } from './support.ts';

/**
 * Fuzzing (STYLE.md: mailparser's hostile-input suite, middy's fuzzed handlers). Arbitrary bytes,
 * arbitrary header sets and arbitrary MIME trees go through each stage on its own, through the
 * whole pipeline on in-memory ports, and through the inbound Lambda handler over a mocked S3.
 *
 * The property everywhere: no uncaught exception, every mail ends with a decision (an outcome from
 * the closed list and a reason code), and the raw mail is never deleted. `bench/fuzz.ts` runs the
 * same generators for 10,000+ cases; here a few hundred keep `npm test` quick.
 *
 * Defences guarded (each test fails if its defence goes):
 * - parse: bad input is a stop value (rejected or quarantined), never a throw (core/stages/parse);
 * - classify/route: rules read untrusted headers defensively (core/stages/classify, route);
 * - render: a failure is a quarantine value, never a throw (core/stages/render/issue.ts, note.ts);
 * - pipeline: any non-transient error becomes a quarantine with its trace (core/pipeline.ts);
 * - handler: invalid events are quarantined, valid ones decided, none fails the batch
 *   (functions/inbound/handler.ts).
 */

const config = deskConfig();
const limits = config.limits;
const project = config.projects[0];
if (!project) throw new Error('the test config has a project');
const isDeskAddress = deskAddressMatcher(config);

const openBuffer = (bytes: Buffer) => async () => {
  const { Readable } = await import('node:stream');
  return Readable.from([bytes]);
};

const verdictArb: fc.Arbitrary<ReceiptVerdicts> = fc.record({
  spf: fc.constantFrom('PASS', 'FAIL', 'GRAY', 'PROCESSING_FAILED', 'DISABLED', 'NONE' as const),
  dkim: fc.constantFrom('PASS', 'FAIL', 'GRAY', 'NONE' as const),
  dmarc: fc.constantFrom('PASS', 'FAIL', 'GRAY', 'NONE' as const),
  spam: fc.constantFrom('PASS', 'PASS', 'PASS', 'FAIL' as const),
  virus: fc.constantFrom('PASS', 'PASS', 'PASS', 'FAIL' as const),
  dmarcPolicy: fc.constantFrom(undefined, 'none' as const, 'quarantine' as const, 'reject' as const),
  arc: fc.constantFrom(undefined, { result: 'pass' as const, sealer: 'forwarder.example' }),
  source: fc.constantFrom('ses' as const, 'local' as const, 'none' as const),
});

const SEED = Number(process.env['FUZZ_SEED'] ?? 20260302);

describe('fuzz: each stage on its own', () => {
  it('parse never throws: every input is parsed, or stopped with an outcome and a reason code', async () => {
    await fc.assert(
      fc.asyncProperty(anyMail(), async (bytes) => {
        const result = await parseMail(openBuffer(bytes), { limits, size: bytes.length });
        if (result.ok) {
          expect(result.value.size).toBe(bytes.length);
        } else {
          // A stop, never a delivery: rejected (bad input) or quarantined (kept for a person).
          expect(['rejected', 'quarantined', 'dropped']).toContain(result.outcome);
          expect(result.reason).toMatch(/^[a-z_]+$/);
        }
      }),
      { numRuns: 300, seed: SEED },
    );
  });

  it('classify and route never throw on any parsed mail and any recipients', async () => {
    await fc.assert(
      fc.asyncProperty(
        fc.oneof(headerMail(), mimeMail()),
        envelopeRecipients(),
        async (bytes, recipients) => {
          const parsed = await parseMail(openBuffer(bytes), { limits });
          if (!parsed.ok) return;
          const classified = classifyMail(parsed.value, {
            domain: config.domain,
            isDeskAddress,
            loopHeader: 'x-postdesk-loop',
          });
          expect(classified.ok).toBe(true);
          if (classified.ok) expect(MailClass).toContain(classified.value.kind);
          const routed = routeMail(parsed.value, { recipients, mailFrom: 'x@example.com' }, config);
          if (routed.ok) {
            expect(routed.value.length).toBeGreaterThan(0);
          } else {
            expect(routed.reason).toBe('no_route');
          }
        },
      ),
      { numRuns: 300, seed: SEED + 1 },
    );
  });

  it('render never throws: an issue or a note draft, or a stop with a reason code', async () => {
    await fc.assert(
      fc.asyncProperty(mimeMail(), fc.boolean(), async (bytes, asNote) => {
        const parsed = await parseMail(openBuffer(bytes), { limits });
        if (!parsed.ok) return;
        const result = asNote
          ? await renderNote({ mail: parsed.value, project, limits, internal: false, automated: false })
          : await renderIssue({ mail: parsed.value, project, limits });
        if (!result.ok) {
          expect(OUTCOMES).toContain(result.outcome);
          expect(result.reason).toMatch(/^[a-z_]+$/);
          return;
        }
        const text = 'description' in result.value ? result.value.description : result.value.body;
        expect(text.length).toBeLessThanOrEqual(limits.max_description_chars);
        expect(text).not.toContain('\0');
      }),
      { numRuns: 200, seed: SEED + 2 },
    );
  });
});

describe('fuzz: the whole pipeline (memory store, memory forge)', () => {
  it('every mail ends with a decision and a reason, nothing throws, raw mail stays', async () => {
    const forge = createMemoryForge();
    const harness = createHarness({ forge });
    let issues = 0;
    let notes = 0;
    await fc.assert(
      fc.asyncProperty(anyMail(), envelopeRecipients(), verdictArb, async (bytes, recipients, verdicts) => {
        const trace = await harness.ingest(bytes, { recipients, verdicts });
        expectDecision(trace);
        for (const delivery of trace.deliveries) {
          if (delivery.outcome === 'issue') issues += 1;
          if (delivery.outcome === 'note') notes += 1;
        }
      }),
      { numRuns: 200, seed: SEED + 3 },
    );
    // Nothing was deleted, and the forge holds exactly what the traces say was delivered.
    expect(harness.raw.keys()).toHaveLength(200);
    const made = ['acme/game', 'acme/docs'].reduce((sum, path) => sum + forge.issues(path).length, 0);
    expect(made).toBe(issues);
    expect(notes).toBe(0);
    // The prototype of every object is untouched by headers called __proto__ or constructor.
    expect(({} as Record<string, unknown>)['polluted']).toBeUndefined();
    expect(Object.keys(Object.prototype)).toEqual([]);
  });

  it('replies with fuzzed bodies to a real ticket: a note, a stop or a quarantine, never a throw', async () => {
    const forge = createMemoryForge();
    const harness = createHarness({ forge });
    const first = await harness.ingest(
      Buffer.from(
        'From: alice@example.com\r\nTo: support+game@desk.example.com\r\nSubject: first\r\nMessage-ID: <root@example.com>\r\n\r\nhello\r\n',
      ),
    );
    expect(first.outcome).toBe('issue');
    await fc.assert(
      fc.asyncProperty(mimeMail(3, 3), async (tree) => {
        const reply = Buffer.concat([
          Buffer.from('From: alice@example.com\r\nIn-Reply-To: <root@example.com>\r\nSubject: Re: first\r\n'),
          tree,
        ]);
        expectDecision(await harness.ingest(reply));
      }),
      { numRuns: 100, seed: SEED + 4 },
    );
  });
});

describe('fuzz: the inbound handler (mocked S3)', () => {
  const s3 = mockClient(S3Client);
  let capture: ReturnType<typeof captureStdout>;
  beforeEach(() => {
    s3.reset();
    capture = captureStdout();
  });
  afterEach(() => capture.restore());
  afterAll(() => s3.restore());

  it('decides every record of every batch, fails none, and deletes no raw mail', async () => {
    const { invoke, arrive, rawDeletes, bucket } = setupInbound(s3);
    let batch = 0;
    await fc.assert(
      fc.asyncProperty(fc.array(anyMail(), { minLength: 1, maxLength: 3 }), async (mails) => {
        batch += 1;
        const records = mails.map((bytes, index) => arrive(`fuzz-${batch}-${index}`, bytes));
        const response = await invoke(sqsEvent(...records));
        expect(response).toEqual({ batchItemFailures: [] });
      }),
      { numRuns: 40, seed: SEED + 5 },
    );
    const decisions = capture.json().filter((line) => line['message'] === 'decision');
    const total = bucket.keys('mail/').length;
    expect(decisions).toHaveLength(total);
    for (const line of decisions) {
      const trace = line['trace'] as { outcome?: unknown; reason?: unknown };
      expect(OUTCOMES).toContain(trace.outcome);
      expect(trace.reason).toMatch(/^[a-z0-9_]+$/);
    }
    expect(rawDeletes()).toEqual([]);
  });

  it('never throws on arbitrary events: arbitrary JSON and arbitrary bytes as SQS bodies', async () => {
    const { invoke, rawDeletes } = setupInbound(s3);
    const body = fc.oneof(
      fc.jsonValue().map((value) => JSON.stringify(value)),
      fc.string(),
      arbitraryBytes().map((bytes) => bytes.toString('latin1')),
    );
    await fc.assert(
      fc.asyncProperty(
        fc.array(body, { minLength: 1, maxLength: 4 }),
        fc.anything(),
        async (bodies, junk) => {
          const records = bodies.map((text, index) => ({ messageId: `junk-${index}`, body: text, junk }));
          const response = await invoke({ Records: records } as unknown as Parameters<typeof invoke>[0]);
          expect(response.batchItemFailures).toEqual([]);
        },
      ),
      { numRuns: 60, seed: SEED + 6 },
    );
    expect(rawDeletes()).toEqual([]);
    expect(({} as Record<string, unknown>)['polluted']).toBeUndefined();
  });
});
