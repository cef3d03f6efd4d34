/**
 * The one backoff policy: capped exponential with jitter (AWS Architecture Blog, "Exponential
 * Backoff And Jitter"). Attempt n draws from a step of min(cap, base * 2^(n-1)): `full` jitter
 * waits a uniformly random time in [0, step), which spreads a burst of retries from many workers
 * instead of synchronising them; `equal` waits in [step/2, step), for a retry that must not come
 * back at once (the local worker's runs). A server's `Retry-After` is honoured up to a bound.
 */
export interface BackoffPolicy {
  /** First step, ms. */
  baseMs: number;
  /** Largest step, ms. */
  capMs: number;
  /** @default 'full' */
  jitter?: 'full' | 'equal' | undefined;
  /** Longest `Retry-After` honoured, ms; longer asks are cut to this. @default capMs */
  maxRetryAfterMs?: number | undefined;
  /** @default Math.random */
  random?: (() => number) | undefined;
}

/** How long to wait before attempt `attempt + 1`; `retryAfterMs` is what the server asked for. */
export const backoffDelay = (policy: BackoffPolicy, attempt: number, retryAfterMs?: number): number => {
  if (policy.baseMs <= 0) return 0;
  const random = policy.random ?? Math.random;
  const step = Math.min(policy.capMs, policy.baseMs * 2 ** Math.max(0, attempt - 1));
  const jittered = policy.jitter === 'equal' ? step / 2 + random() * (step / 2) : random() * step;
  const wait =
    retryAfterMs === undefined
      ? jittered
      : Math.max(jittered, Math.min(retryAfterMs, policy.maxRetryAfterMs ?? policy.capMs));
  // Full jitter stays below its step; equal jitter rounds to the nearest millisecond.
  return policy.jitter === 'equal' ? Math.round(wait) : Math.floor(wait);
};

/**
 * `Retry-After` (RFC 9110 §10.2.3): either delay-seconds or an HTTP date. Returns milliseconds
 * from `now`, or undefined when the header is absent or unreadable. A date in the past gives 0.
 */
export const parseRetryAfter = (value: string | string[] | undefined, now: number): number | undefined => {
  const text = (Array.isArray(value) ? value[0] : value)?.trim();
  if (text === undefined || text === '') return undefined;
  if (/^\d+$/.test(text)) return Number(text) * 1000;
  const at = Date.parse(text);
  return Number.isNaN(at) ? undefined : Math.max(0, at - now);
};

export const realSleep = (ms: number): Promise<void> =>
  new Promise((resolve) => {
    setTimeout(resolve, ms);
  });
