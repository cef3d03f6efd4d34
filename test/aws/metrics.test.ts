import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { createDeskMetrics, timedForge } from '../../adapters/aws/metrics.ts';
import type { Forge } from '../../core/ports.ts';
import type { DecisionTrace } from '../../core/trace.ts';
import { captureStdout } from './log-capture.ts';

const trace = (overrides: Partial<DecisionTrace>): DecisionTrace => ({
  mailId: 'm1',
  receivedAt: '2026-01-01T00:00:00.000Z',
  mail: {},
  outcome: 'issue',
  reason: 'created',
  message: '',
  routes: [],
  stages: [],
  deliveries: [],
  dryRun: false,
  ...overrides,
});

interface Emf {
  _aws: {
    CloudWatchMetrics: {
      Namespace: string;
      Dimensions: string[][];
      Metrics: { Name: string; Unit: string }[];
    }[];
  };
  [key: string]: unknown;
}

const emfLines = (capture: ReturnType<typeof captureStdout>): Emf[] =>
  capture.json().filter((line): line is Emf => typeof line['_aws'] === 'object');

describe('createDeskMetrics', () => {
  let capture: ReturnType<typeof captureStdout>;
  beforeEach(() => {
    capture = captureStdout();
  });
  afterEach(() => capture.restore());

  it('counts received mail, issues and notes as EMF in the Postdesk namespace', () => {
    // Prepare
    const metrics = createDeskMetrics({ namespace: 'Postdesk', serviceName: 'inbound' });

    // Act
    metrics.received();
    metrics.recordOutcome(
      trace({
        deliveries: [
          { project: 'acme/game', outcome: 'issue', reason: 'created' },
          { project: 'acme/web', outcome: 'note', reason: 'reply' },
        ],
      }),
    );
    metrics.publish();

    // Assess
    const [emf] = emfLines(capture);
    expect(emf?._aws.CloudWatchMetrics[0]?.Namespace).toBe('Postdesk');
    expect(emf?._aws.CloudWatchMetrics[0]?.Metrics.map((metric) => metric.Name).sort()).toEqual([
      'issues_created',
      'notes_added',
      'received',
    ]);
    expect(emf).toMatchObject({ received: 1, issues_created: 1, notes_added: 1, service: 'inbound' });
  });

  it('gives dropped and quarantined mail a reason dimension of their own', () => {
    // Prepare
    const metrics = createDeskMetrics({ namespace: 'Postdesk', serviceName: 'inbound' });

    // Act
    metrics.recordOutcome(trace({ outcome: 'quarantined', reason: 'auth_failed' }));
    metrics.recordOutcome(trace({ outcome: 'dropped', reason: 'auto_reply' }));
    metrics.recordStop('quarantined', 'event_invalid');
    metrics.received();
    metrics.publish();

    // Assess
    const lines = emfLines(capture);
    const withReason = lines.filter((line) => 'reason' in line);
    expect(
      withReason.map((line) => [
        Object.keys(line).find((key) => key === 'quarantined' || key === 'dropped'),
        line['reason'],
      ]),
    ).toEqual([
      ['quarantined', 'auth_failed'],
      ['dropped', 'auto_reply'],
      ['quarantined', 'event_invalid'],
    ]);
    for (const line of withReason) {
      expect(line._aws.CloudWatchMetrics[0]?.Dimensions[0]).toEqual(['service', 'reason']);
    }
    // The shared set (received) does not inherit the reason dimension.
    const shared = lines.find((line) => 'received' in line);
    expect(shared?.['reason']).toBeUndefined();
  });

  it('times forge calls into forge_latency_ms and counts retries', async () => {
    // Prepare
    const metrics = createDeskMetrics({ namespace: 'Postdesk', serviceName: 'inbound' });
    const forge = timedForge(
      { kind: 'gitlab', getIssue: async () => undefined } as unknown as Forge,
      metrics,
    );

    // Act
    await forge.getIssue({ path: 'acme/game' }, 1);
    metrics.retry();
    metrics.publish();

    // Assess
    const [emf] = emfLines(capture);
    const definitions = emf?._aws.CloudWatchMetrics[0]?.Metrics ?? [];
    expect(definitions).toContainEqual({ Name: 'forge_latency_ms', Unit: 'Milliseconds' });
    expect(definitions).toContainEqual({ Name: 'retries', Unit: 'Count' });
    expect(forge.kind).toBe('gitlab');
  });
});
