import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createMemoryObjectStore } from '../../adapters/local/memory-object-store.ts';
import { isTransient } from '../../core/errors.ts';
import type { InboundMail } from '../../core/model.ts';
import { type PipelineDeps, processMail } from '../../core/pipeline.ts';
import { deliveryMarker } from '../../core/stages/deliver/marker.ts';
import type { DecisionTrace } from '../../core/trace.ts';
import { cpuMs } from '../support/cpu-time.ts';
import { deskState } from '../support/desk-state.ts';
import type { FakeGitLab } from '../support/fake-gitlab.ts';
import {
  gitlabForge,
  MAX_RECEIVES,
  type ProxyFault,
  seededRandom,
  startFaultProxy,
  startGitLab,
  VISIBILITY_MS,
} from './faults.ts';
import { createHarness, deskConfig, GAME_ADDRESS, movableClock, simpleMail } from './support.ts';

/**
 * Load with faults: 1,000 mails, 20 at a time, through the pipeline against the fake GitLab over
 * real HTTP, with 10% of GitLab requests failing (500, 503, 429 with Retry-After, a dropped
 * connection, or an answer lost after GitLab acted), chosen by a seeded PRNG. A round-based stand-in
 * for SQS redelivers what failed transiently after the visibility timeout, up to 5 receives, then
 * dead-letters it. Then every mail is accounted for exactly once:
 *
 *   issues on GitLab with a mail's marker + notes with it   = 1 for every delivered mail, 0 otherwise
 *   delivered + quarantined + dead-lettered + decided-otherwise = mails sent
 *
 * A fifth of the mails are replies to twenty tickets made before the load, so notes race on the
 * same ticket records as well. Rate limits are set out of reach: this test is about faults.
 *
 * Defences guarded: the ledger lease and marker recovery (core/stages/deliver), the adapter's retry
 * policy and its refusal to re-send a POST that may have arrived (adapters/forges/gitlab/client.ts),
 * compare-and-swap on ticket records (core/state/json.ts). Figures are printed as JSON lines
 * (`load_*`) for docs/RELIABILITY.md.
 */

const MAILS = Number(process.env['LOAD_MAILS'] ?? 1000);
const CONCURRENCY = 20;
const FAULT_RATE = 0.1;
const SEED = Number(process.env['LOAD_SEED'] ?? 7);
const TICKETS = 20;

const FAULTS: ProxyFault[] = ['500', '503', '429', 'drop', 'lose'];

const MARKER = /postdesk:(pd-[0-9a-f]{24})/g;

describe('load: 1,000 mails, 20 at a time, 10% GitLab faults', () => {
  let gitlab: FakeGitLab;
  let proxy: Awaited<ReturnType<typeof startFaultProxy>>;
  const random = seededRandom(SEED);
  let faulty = false;
  let faultRate = FAULT_RATE;

  beforeAll(async () => {
    gitlab = await startGitLab();
    proxy = await startFaultProxy(gitlab.url, () => {
      if (!faulty || random() >= faultRate) return 'pass';
      return FAULTS[Math.floor(random() * FAULTS.length)] ?? 'pass';
    });
  });
  afterAll(async () => {
    await proxy.close();
    await gitlab.close();
  });

  const runLoad = async (total: number, rate: number, prefix: string) => {
    // Prepare: twenty tickets, made without faults.
    const clock = movableClock();
    const store = createMemoryObjectStore();
    const waits: number[] = [];
    const config = deskConfig({
      rate_limits: { per_ticket: { '10': 1_000_000 }, per_desk: { '10': 1_000_000 } },
    });
    const harness = createHarness({ clock, store, config, forge: gitlabForge(proxy.url, waits) });
    for (let ticket = 0; ticket < TICKETS; ticket++) {
      const trace = await harness.ingest(
        simpleMail({
          from: `customer${ticket}@example.com`,
          messageId: `${prefix}ticket-${ticket}@example.com`,
        }),
        { id: `${prefix}ticket-${ticket}` },
      );
      expect(trace.outcome).toBe('issue');
    }
    const mails: InboundMail[] = [];
    for (let index = 0; index < total; index++) {
      const isReply = index % 5 === 4;
      const ticket = index % TICKETS;
      const raw = isReply
        ? simpleMail({
            from: `customer${ticket}@example.com`,
            subject: 'Re: The game crashes on start',
            messageId: `${prefix}load-${index}@example.com`,
            headers: [['In-Reply-To', `<${prefix}ticket-${ticket}@example.com>`]],
            body: `Reply ${index}: still broken.`,
          })
        : simpleMail({
            from: `sender${index}@example.com`,
            subject: `Problem number ${index}`,
            messageId: `${prefix}load-${index}@example.com`,
            body: `Mail ${index} of the load test.`,
          });
      mails.push(harness.arrive(raw, { id: `${prefix}load-${index}`, recipients: [GAME_ADDRESS] }));
    }

    // Act: rounds of receives, as SQS would deliver them.
    faulty = true;
    faultRate = rate;
    const before = { ...proxy.counts };
    const started = cpuMs();
    const decided = new Map<string, DecisionTrace>();
    const receives = new Map<string, number>();
    let pending = mails;
    const deadLetters: InboundMail[] = [];
    const permanentEscapes: unknown[] = [];
    for (let receive = 1; receive <= MAX_RECEIVES && pending.length > 0; receive++) {
      const failed: InboundMail[] = [];
      // One "function instance" per round: a fresh forge client, like a new Lambda container.
      const deps: PipelineDeps = { ...harness.deps, forge: gitlabForge(proxy.url, waits) };
      let next = 0;
      const worker = async (): Promise<void> => {
        for (;;) {
          const mail = pending[next++];
          if (!mail) return;
          receives.set(mail.id, receive);
          try {
            decided.set(mail.id, await processMail(mail, deps));
          } catch (error) {
            if (!isTransient(error)) permanentEscapes.push(error);
            failed.push(mail);
          }
        }
      };
      await Promise.all(Array.from({ length: CONCURRENCY }, worker));
      pending = failed;
      clock.advance(VISIBILITY_MS);
    }
    deadLetters.push(...pending);
    const elapsedMs = cpuMs() - started;
    faulty = false;

    // Assess: count what GitLab holds, by marker.
    const ours = new Set([
      ...mails.map((mail) => deliveryMarker(mail.id, 'acme/game')),
      ...Array.from({ length: TICKETS }, (_, ticket) =>
        deliveryMarker(`${prefix}ticket-${ticket}`, 'acme/game'),
      ),
    ]);
    const countOnGitLab = (): Map<string, number> => {
      const found = new Map<string, number>();
      const count = (text: string | null) => {
        for (const match of (text ?? '').matchAll(MARKER)) {
          const marker = match[1] ?? '';
          if (ours.has(marker)) found.set(marker, (found.get(marker) ?? 0) + 1);
        }
      };
      for (const issue of gitlab.issues('acme/game')) {
        count(issue.description);
        for (const note of gitlab.notes('acme/game', issue.iid)) count(note.body);
      }
      return found;
    };
    const onGitLab = countOnGitLab();
    const quarantined = new Set<string>();
    for await (const entry of deskState(store).quarantine.list()) quarantined.add(entry.mailId);

    let delivered = 0;
    let issues = 0;
    let notes = 0;
    let lost = 0;
    let duplicates = 0;
    let other = 0;
    for (const mail of mails) {
      const made = onGitLab.get(deliveryMarker(mail.id, 'acme/game')) ?? 0;
      const trace = decided.get(mail.id);
      if (made > 1) duplicates += 1;
      if (trace?.outcome === 'issue' || trace?.outcome === 'note') {
        delivered += 1;
        if (trace.outcome === 'issue') issues += 1;
        else notes += 1;
        if (made === 0) lost += 1;
      } else if (trace?.outcome === 'quarantined') {
        expect(quarantined.has(mail.id)).toBe(true);
      } else if (trace) {
        other += 1;
      }
    }
    const injected = Object.fromEntries(
      Object.entries(proxy.counts).map(([fault, value]) => [
        fault,
        value - (before[fault as ProxyFault] ?? 0),
      ]),
    ) as Record<ProxyFault, number>;
    const figures = {
      mails: total,
      concurrency: CONCURRENCY,
      fault_rate: rate,
      requests: Object.values(injected).reduce((sum, value) => sum + value, 0),
      faults_injected: injected,
      delivered: delivered,
      issues: issues,
      notes: notes,
      lost: lost,
      duplicates: duplicates,
      dlq: deadLetters.length,
      quarantined: quarantined.size,
      other_decisions: other,
      receives_histogram: [...receives.values()].reduce<Record<string, number>>((histogram, value) => {
        histogram[value] = (histogram[value] ?? 0) + 1;
        return histogram;
      }, {}),
      ms: Math.round(elapsedMs),
    };
    for (const [name, value] of Object.entries(figures)) {
      console.info(JSON.stringify({ name: `${prefix}${name}`, value }));
    }

    expect(permanentEscapes).toEqual([]);
    expect(lost).toBe(0);
    expect(duplicates).toBe(0);
    expect(delivered + quarantined.size + deadLetters.length + other).toBe(total);
    // No marker twice; every delivered mail's once. A dead-lettered mail may already have made its
    // issue (GitLab acted, the answer was lost, and every later receive failed too): at most one.
    expect([...onGitLab.values()].every((value) => value === 1)).toBe(true);
    const deadMade = deadLetters.filter((mail) => onGitLab.has(deliveryMarker(mail.id, 'acme/game'))).length;
    expect(onGitLab.size).toBe(delivered + TICKETS + deadMade);
    // The redrive, once GitLab is healthy: each dead letter ends as exactly one issue or note.
    for (const mail of deadLetters) {
      clock.advance(VISIBILITY_MS);
      const trace = await processMail(mail, { ...harness.deps, forge: gitlabForge(gitlab.url, waits) });
      expect(['issue', 'note']).toContain(trace.outcome);
    }
    const afterRedrive = countOnGitLab();
    for (const mail of mails) {
      const trace = decided.get(mail.id);
      if (trace && trace.outcome !== 'issue' && trace.outcome !== 'note') continue;
      expect(afterRedrive.get(deliveryMarker(mail.id, 'acme/game')), mail.id).toBe(1);
    }
    console.info(JSON.stringify({ name: `${prefix}dlq_made_before_redrive`, value: deadMade }));
    // The faults really happened, each kind of them.
    for (const fault of FAULTS) expect(injected[fault]).toBeGreaterThan(0);
    return { delivered, dead: deadLetters.length, quarantined: quarantined.size };
  };

  it('1,000 mails at 10% faults: every mail accounted for exactly once, no loss, no duplicate', async () => {
    await runLoad(MAILS, FAULT_RATE, 'load_');
  });

  it('200 mails at 80% faults: some reach the DLQ, none is lost or doubled, a redrive delivers them once', async () => {
    const result = await runLoad(200, 0.8, 'storm_');
    expect(result.dead).toBeGreaterThan(0);
    expect(result.delivered + result.dead + result.quarantined).toBe(200);
  });
});
