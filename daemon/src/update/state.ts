import { closeSync, existsSync, fsyncSync, mkdirSync, openSync, readFileSync, renameSync, writeSync } from 'node:fs';
import { dirname } from 'node:path';
import { z } from 'zod';

/**
 * The updater's persisted state (owner: the Updater). `phase` other than idle means an update or a
 * rollback was under way when the process stopped: the next `blinkd update` command (or the boot-time
 * `blinkd update recover`) finishes the rollback from `pending`.
 */
const pendingSchema = z
  .object({
    from: z.string(),
    to: z.string(),
    digest: z.string(),
    /** The database copy taken before the switch (null: there was no database). */
    snapshot: z.string().nullable(),
    startedAt: z.string(),
    reason: z.string().optional(),
  })
  .strict();

const resultSchema = z
  .object({
    action: z.enum(['apply', 'rollback', 'recover']),
    from: z.string().nullable(),
    to: z.string(),
    result: z.enum(['ok', 'rolled_back', 'noop', 'failed']),
    detail: z.string(),
    at: z.string(),
  })
  .strict();

export const stateSchema = z
  .object({
    phase: z.enum(['idle', 'switching', 'gating', 'rolling_back']),
    pending: pendingSchema.nullable(),
    /** The last successful update: what `blinkd update rollback` goes back to (release and database snapshot). */
    lastUpdate: pendingSchema.nullable(),
    history: z.array(resultSchema),
  })
  .strict();

export type UpdateState = z.infer<typeof stateSchema>;
export type PendingUpdate = z.infer<typeof pendingSchema>;
export type UpdateResult = z.infer<typeof resultSchema>;

export const EMPTY_STATE: UpdateState = { phase: 'idle', pending: null, lastUpdate: null, history: [] };
const HISTORY = 20;

export function readState(file: string): UpdateState {
  if (!existsSync(file)) return structuredClone(EMPTY_STATE);
  const raw = readFileSync(file, 'utf8');
  let json: unknown;
  try {
    json = JSON.parse(raw);
  } catch (err) {
    throw new Error(`${file}: not JSON (${(err as Error).message}); remove it only after checking which release \`current\` points to`);
  }
  const r = stateSchema.safeParse(json);
  if (!r.success) throw new Error(`${file}: ${r.error.issues[0]!.path.join('.')}: ${r.error.issues[0]!.message}`);
  return r.data;
}

/** Atomic and durable: written to a temporary file, fsynced, renamed over the old one, directory fsynced. */
export function writeState(file: string, state: UpdateState): void {
  const s: UpdateState = { ...state, history: state.history.slice(-HISTORY) };
  mkdirSync(dirname(file), { recursive: true });
  writeDurably(file, JSON.stringify(s, null, 2) + '\n');
}

export function writeDurably(file: string, text: string, mode = 0o644): void {
  const tmp = `${file}.tmp-${process.pid}`;
  const fd = openSync(tmp, 'w', mode);
  try {
    writeSync(fd, text);
    fsyncSync(fd);
  } finally {
    closeSync(fd);
  }
  renameSync(tmp, file);
  fsyncDir(dirname(file));
}

export function fsyncDir(dir: string): void {
  const fd = openSync(dir, 'r');
  try {
    fsyncSync(fd);
  } finally {
    closeSync(fd);
  }
}
