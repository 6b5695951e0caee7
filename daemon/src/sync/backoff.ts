/**
 * Retry delays for the sync client: full-jitter exponential backoff (AWS Architecture Blog,
 * "Exponential Backoff and Jitter"): a uniformly random delay in [0, min(cap, base·2^n)),
 * so a thousand units that lost the server at the same moment do not return in step.
 * A server's Retry-After (429/503) is a floor. There is no last attempt: the client retries
 * for as long as it runs.
 */
export interface BackoffOptions {
  baseMs: number;
  capMs: number;
  random?: () => number;
}

export const DEFAULT_BACKOFF: BackoffOptions = { baseMs: 1000, capMs: 120_000 };

/** The delay before retry number `failures` (1 = the first retry). */
export function backoffDelay(failures: number, options: BackoffOptions = DEFAULT_BACKOFF, retryAfterMs: number | null = null): number {
  const random = options.random ?? Math.random;
  const exp = Math.min(options.capMs, options.baseMs * 2 ** Math.min(Math.max(failures - 1, 0), 30));
  const jittered = Math.floor(random() * exp);
  return retryAfterMs === null ? jittered : Math.min(Math.max(retryAfterMs, jittered), Math.max(options.capMs, retryAfterMs));
}

/** Retry-After as milliseconds: delta-seconds or an HTTP date; null when absent or unreadable. */
export function parseRetryAfter(value: string | null | undefined, now = Date.now()): number | null {
  if (!value) return null;
  if (/^\d+$/.test(value.trim())) return Number(value.trim()) * 1000;
  const at = Date.parse(value);
  return Number.isNaN(at) ? null : Math.max(0, at - now);
}
