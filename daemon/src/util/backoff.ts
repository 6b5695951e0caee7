/**
 * Exponential backoff between bounds: attempt 0 waits minMs, each further attempt doubles, capped at maxMs.
 * `jitter` spreads the wait so a fleet that lost its server at the same moment does not come back in step:
 *   none  — exactly the exponential value (deterministic restarts, e.g. a local camera process);
 *   ±20%  — proportional jitter (reconnects to one broker);
 *   full  — uniform in [0, value] (many clients against one server: AWS's "full jitter").
 */
export type Jitter = 'none' | 'proportional' | 'full';

export function backoffDelay(attempt: number, minMs: number, maxMs: number, jitter: Jitter = 'none', random: () => number = Math.random): number {
  const base = Math.min(maxMs, minMs * 2 ** Math.max(0, attempt));
  if (jitter === 'none') return base;
  if (jitter === 'full') return Math.round(base * random());
  return Math.round(Math.min(maxMs, Math.max(minMs, base * (0.8 + 0.4 * random()))));
}
