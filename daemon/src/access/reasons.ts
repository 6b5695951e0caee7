/**
 * Every reason code an access decision can carry: the `reason` column of access_events,
 * the MQTT event payload and the admin UI's labels all use these. One file, so a reader
 * finds every possible outcome in one place.
 */
export const GRANT_REASONS = {
  /** A live, enrolled, active person inside their validity dates and schedule. */
  match: 'recognised, live, active and allowed at this time',
  /** Request-to-exit button (egress). */
  exit_request: 'request-to-exit button pressed',
} as const;

export const DENY_REASONS = {
  /** Nobody in the gallery is close (best score well below the threshold, or an empty gallery). */
  unknown: 'face not recognised',
  /** The best person came close to the threshold but did not reach it. */
  below_threshold: 'best match below the threshold',
  /** The best person reached the threshold but another person scored too close (access.margin). */
  ambiguous_match: 'two enrolled people match too closely',
  /** Recognised, but the liveness policy failed (passive anti-spoof, blink or head turn), or it timed out. */
  liveness_failed: 'liveness check failed',
  /** Recognised person whose status is DEACTIVATED. */
  deactivated: 'person is deactivated',
  /** Recognised person outside their weekly schedule. */
  outside_schedule: 'outside the person\u2019s weekly schedule',
  /** Recognised person before valid_from or after valid_until. */
  outside_validity: 'outside the person\u2019s validity dates',
  /** The unit is in lockdown: nobody is granted. */
  lockdown: 'the unit is in lockdown',
  /** Decisions cannot be stored (disk full, storage error) and access.grantWhenUnrecorded is off. */
  cannot_record: 'the unit cannot record decisions right now',
} as const;

export type GrantReason = keyof typeof GRANT_REASONS;
export type DenyReason = keyof typeof DENY_REASONS;
export type ReasonCode = GrantReason | DenyReason;

/** A best score at most this far under access.threshold is "below_threshold" rather than "unknown" (cosine units; the default embedder puts impostors near 0.85-0.9). */
export const NEAR_MISS_BAND = 0.03;

export function describeReason(code: string): string {
  return (GRANT_REASONS as Record<string, string>)[code] ?? (DENY_REASONS as Record<string, string>)[code] ?? code;
}
