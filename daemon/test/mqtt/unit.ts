import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { openDatabase } from '../../src/store/database.js';
import { startBlinkd, type HealthBody, type RunningBlinkd } from '../helpers/blinkd.js';

/** BLINK_* variables for a unit with MQTT on `url`, a simulated relay mirrored to dir/gpio.json and its database in dir. */
export function unitEnv(dir: string, url: string, unitId: string, extra: Record<string, string> = {}): Record<string, string> {
  return {
    BLINK_UNIT__ID: unitId,
    BLINK_STORE__DATA_DIR: dir,
    BLINK_DOOR__DRIVER: 'simulated',
    BLINK_DOOR__SIMULATED_STATE_FILE: join(dir, 'gpio.json'),
    BLINK_DOOR__PULSE_MS: '300',
    BLINK_CAMERA__SOURCE: 'images:' + join(dir, 'no-camera'),
    BLINK_MQTT__ENABLED: 'true',
    BLINK_MQTT__URL: url,
    BLINK_MQTT__RECONNECT_MIN_MS: '100',
    BLINK_MQTT__RECONNECT_MAX_MS: '1000',
    BLINK_LOGGING__LEVEL: 'info',
    ...extra,
  };
}

/** `blinkd run` (the compiled CLI) as a child process, started in dir. */
export function startUnit(dir: string, env: Record<string, string>): Promise<RunningBlinkd> {
  return startBlinkd(['run'], { cwd: dir, env });
}

/** Until the unit's command subscription on its `connection`-th broker connection is confirmed (its /health says so). */
export function waitCommandsLive(unit: RunningBlinkd, connection = 1): Promise<HealthBody> {
  return unit.waitForHealth(
    (h) => Number(h.services.mqtt?.connects) >= connection && h.services.mqtt?.commandsLive === true,
    20_000,
    `MQTT commands live on connection ${connection}`,
  );
}

export async function kill(unit: RunningBlinkd, signal: NodeJS.Signals = 'SIGKILL'): Promise<void> {
  if (signal === 'SIGKILL') return unit.kill(); // waits for the door controller too
  if (unit.child.exitCode !== null || unit.child.signalCode !== null) return;
  unit.child.kill(signal);
  await unit.exited;
}

/** Relay pin 17 writes recorded by the simulated driver (level 1 = energized = door open). */
export function relayWrites(dir: string): Array<{ level: number; t: number }> {
  try {
    const state = JSON.parse(readFileSync(join(dir, 'gpio.json'), 'utf8')) as { writes: Array<{ pin: number; level: number; t: number }> };
    return state.writes.filter((w) => w.pin === 17);
  } catch {
    return [];
  }
}

/** Audit entries of the unit's database, newest last (read-only, beside the running unit). */
export function auditEntries(dir: string): Array<{ actor: string; action: string; target: string | null; details: Record<string, unknown> | null }> {
  const db = openDatabase(join(dir, 'blink.db'), { readonly: true });
  try {
    const rows = db.prepare('SELECT actor, action, target, details_json FROM audit_log ORDER BY id').all() as Array<{
      actor: string;
      action: string;
      target: string | null;
      details_json: string | null;
    }>;
    return rows.map((r) => ({
      actor: r.actor,
      action: r.action,
      target: r.target,
      details: r.details_json ? (JSON.parse(r.details_json) as Record<string, unknown>) : null,
    }));
  } finally {
    db.close();
  }
}

export const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));
