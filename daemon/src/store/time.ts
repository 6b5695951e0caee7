/** ISO-8601 UTC timestamp with milliseconds; the one time format stored in the database. */
export function isoNow(now: Date = new Date()): string {
  return now.toISOString();
}
