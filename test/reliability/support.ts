import { expect } from 'vitest';
import type { DecisionTrace } from '../../core/trace.ts';
import { OUTCOMES } from './harness.ts';

export * from './harness.ts';

/**
 * The property every mail must have: one final outcome from the closed list, a reason code, a
 * sentence for a person, and a stage record for every stage that ran (each with its own reason).
 */
export const expectDecision = (trace: DecisionTrace): void => {
  expect(OUTCOMES).toContain(trace.outcome);
  expect(trace.reason).toMatch(/^[a-z0-9_]+$/);
  expect(typeof trace.message).toBe('string');
  expect(trace.stages.length).toBeGreaterThan(0);
  for (const stage of trace.stages) expect(stage.reason).toMatch(/^[a-z0-9_]+$/);
};
