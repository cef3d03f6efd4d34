import { backoffDelay } from '../../../core/backoff.ts';

export { parseRetryAfter, realSleep } from '../../../core/backoff.ts';

/** The GitLab client's steps: full jitter on the desk's one backoff policy (core/backoff.ts). */
export const fullJitterDelay = (
  attempt: number,
  baseMs: number,
  capMs: number,
  random: () => number,
): number => backoffDelay({ baseMs, capMs, random }, attempt);
