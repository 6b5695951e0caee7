/**
 * Last-writer-wins for person records: one comparator for the sync server and every unit, so
 * they all pick the same winner. Order: record version, then a deletion over a non-deletion at
 * the same version, then the later updated_at, then the unit id (a total order: never a tie
 * between different writers).
 */
export interface VersionStamp {
  version: number;
  deleted: boolean;
  updatedAt: string;
  unitId: string;
}

/** < 0 when a loses to b, 0 when they are the same write, > 0 when a wins. */
export function compareStamps(a: VersionStamp, b: VersionStamp): number {
  if (a.version !== b.version) return a.version < b.version ? -1 : 1;
  if (a.deleted !== b.deleted) return a.deleted ? 1 : -1;
  const ta = Date.parse(a.updatedAt);
  const tb = Date.parse(b.updatedAt);
  if (ta !== tb) return (Number.isNaN(ta) ? -Infinity : ta) < (Number.isNaN(tb) ? -Infinity : tb) ? -1 : 1;
  if (a.unitId !== b.unitId) return a.unitId < b.unitId ? -1 : 1;
  return 0;
}
