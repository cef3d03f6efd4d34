/**
 * Backoff policy: capped exponential with full jitter (AWS Architecture Blog, "Exponential Backoff
 * And Jitter"): attempt n waits a uniformly random time in [0, min(cap, base * 2^(n-1))), which
 * spreads a burst of retries from many functions instead of synchronising them.
 */
export const fullJitterDelay = (
  attempt: number,
  baseMs: number,
  capMs: number,
  random: () => number,
): number => Math.floor(random() * Math.min(capMs, baseMs * 2 ** Math.max(0, attempt - 1)));

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
