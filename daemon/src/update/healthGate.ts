import { execFile } from 'node:child_process';
import { promisify } from 'node:util';

const run = promisify(execFile);

/**
 * The health gate after a switch: a set of checks that must all pass in one round before the
 * deadline. Checks are plain objects, so the Updater's callers (CLI, tests) choose them. A check
 * that sees the release can no longer pass (systemd gave up on the unit) says so with `fatal`,
 * and the gate ends at once instead of waiting out its deadline.
 */
export interface CheckResult {
  ok: boolean;
  detail: string;
  /** Only with ok false: a terminal failure that waiting cannot change. */
  fatal?: true;
}

export interface HealthCheck {
  name: string;
  check(signal: AbortSignal): Promise<CheckResult>;
}

export interface GateResult {
  ok: boolean;
  elapsedMs: number;
  rounds: number;
  checks: Array<{ name: string } & CheckResult>;
  /** The check whose terminal failure ended the gate before its deadline. */
  fatal?: string;
}

export async function runHealthGate(
  checks: readonly HealthCheck[],
  opts: { deadlineMs: number; intervalMs?: number; progress?: (msg: string) => void },
): Promise<GateResult> {
  const started = Date.now();
  const interval = opts.intervalMs ?? 1000;
  let rounds = 0;
  let last: GateResult['checks'] = [];
  let lastLine = '';
  for (;;) {
    rounds++;
    const remaining = opts.deadlineMs - (Date.now() - started);
    last = [];
    for (const c of checks) {
      const signal = AbortSignal.timeout(Math.max(250, Math.min(remaining, 5000)));
      let r: CheckResult;
      try {
        r = await c.check(signal);
      } catch (err) {
        r = { ok: false, detail: (err as Error).message };
      }
      last.push({ name: c.name, ...r });
      if (!r.ok && r.fatal) {
        const elapsedMs = Date.now() - started;
        opts.progress?.(`health gate: ${c.name} failed for good: ${r.detail} (after ${(elapsedMs / 1000).toFixed(1)} s: not waiting for the deadline)`);
        return { ok: false, elapsedMs, rounds, checks: last, fatal: c.name };
      }
    }
    const ok = last.every((c) => c.ok);
    const line = last.map((c) => `${c.name} ${c.ok ? 'ok' : 'waiting: ' + c.detail}`).join('; ');
    if (line !== lastLine) opts.progress?.(`health gate: ${line}`);
    lastLine = line;
    const elapsedMs = Date.now() - started;
    if (ok) return { ok, elapsedMs, rounds, checks: last };
    if (elapsedMs + interval > opts.deadlineMs) return { ok: false, elapsedMs, rounds, checks: last };
    await new Promise((r) => setTimeout(r, interval));
  }
}

// ---- the checks a door unit uses ------------------------------------------------------------

async function fetchHealth(url: string, signal: AbortSignal): Promise<Record<string, unknown>> {
  const res = await fetch(url, { signal });
  const body = (await res.json()) as Record<string, unknown>;
  return body;
}

type Services = Record<string, Record<string, unknown> | undefined>;

/** blinkd answers /health, is not unhealthy, and runs the expected version (not the old process). */
export function daemonReadyCheck(healthUrl: string, expectedVersion: string | null): HealthCheck {
  return {
    name: 'ready',
    async check(signal) {
      const body = await fetchHealth(healthUrl, signal);
      if (expectedVersion && body.version !== expectedVersion)
        return { ok: false, detail: `running version ${String(body.version)}, expected ${expectedVersion}` };
      if (body.status === 'unhealthy') return { ok: false, detail: 'status unhealthy' };
      return { ok: true, detail: `status ${String(body.status)}` };
    },
  };
}

/** The door relay is de-energized at rest (a release that leaves the door unlocked never passes). */
export function relayOffCheck(healthUrl: string): HealthCheck {
  return {
    name: 'relay',
    async check(signal) {
      const door = ((await fetchHealth(healthUrl, signal)).services as Services | undefined)?.door;
      if (!door) return { ok: false, detail: 'no door service in /health' };
      return door.relay === 'off' ? { ok: true, detail: 'off' } : { ok: false, detail: `relay ${String(door.relay)}` };
    },
  };
}

/** The camera delivers frames. */
export function cameraFrameCheck(healthUrl: string): HealthCheck {
  return {
    name: 'camera',
    async check(signal) {
      const cam = ((await fetchHealth(healthUrl, signal)).services as Services | undefined)?.camera;
      if (!cam) return { ok: false, detail: 'no camera service in /health' };
      const frames = Number(cam.frames ?? 0);
      return cam.state === 'up' && frames > 0
        ? { ok: true, detail: `${frames} frames` }
        : { ok: false, detail: `camera ${String(cam.state)}, ${frames} frames` };
    },
  };
}

/** The sync server answers HTTP at all (any status): the network path and TLS work from this release. */
export function syncReachableCheck(serverUrl: string): HealthCheck {
  return {
    name: 'sync',
    async check(signal) {
      const res = await fetch(serverUrl, { signal, redirect: 'manual' });
      await res.body?.cancel();
      return { ok: true, detail: `HTTP ${res.status}` };
    },
  };
}

/**
 * systemd says the unit is active: with Type=notify, that means blinkd sent READY=1. "failed" is
 * terminal: systemd stopped restarting it (an exit status in RestartPreventExitStatus, or
 * StartLimitBurst starts used up), so the gate gives up at once. `systemctl` is the command to run.
 */
export function systemdActiveCheck(unit: string, systemctl = 'systemctl'): HealthCheck {
  return {
    name: 'systemd',
    async check(signal) {
      try {
        const { stdout } = await run(systemctl, ['show', '-p', 'ActiveState', '-p', 'SubState', '-p', 'NRestarts', unit], { signal });
        const p = new Map(
          stdout
            .split('\n')
            .map((l) => l.trim().split('='))
            .filter((kv) => kv.length === 2) as [string, string][],
        );
        const state = p.get('ActiveState') ?? '';
        if (state === 'failed') return { ok: false, fatal: true, detail: `${unit} failed (systemd does not restart it)` };
        // The new release exited and systemd restarts it (Restart=on-failure): a release that
        // crashes during its gate is not waited on through up to StartLimitBurst restarts. NRestarts
        // counts from this start (the updater's start runs reset-failed first, which clears it).
        const restarts = Number(p.get('NRestarts') ?? '0');
        if (p.get('SubState') === 'auto-restart' || restarts > 0)
          return {
            ok: false,
            fatal: true,
            detail: `${unit} exited and systemd is restarting it (NRestarts ${restarts}, SubState ${p.get('SubState') ?? '?'})`,
          };
        return state === 'active' ? { ok: true, detail: 'active (READY)' } : { ok: false, detail: state || 'unknown' };
      } catch (err) {
        return { ok: false, detail: (err as Error).message };
      }
    },
  };
}

// ---- starting and stopping the daemon --------------------------------------------------------

export interface ServiceControl {
  stop(): Promise<void>;
  start(): Promise<void>;
}

/** For tests and for trees no service runs from. */
export const NO_SERVICE: ServiceControl = { stop: async () => undefined, start: async () => undefined };

export function systemdService(unit: string): ServiceControl {
  return {
    async stop() {
      await run('systemctl', ['stop', unit]);
    },
    async start() {
      // A "failed" left from before must not be taken for this start's (the gate gives up on
      // "failed"); a unit that is not failed makes this a no-op, and its errors do not matter.
      await run('systemctl', ['reset-failed', unit]).catch(() => undefined);
      // --no-block: the gate waits for READY itself, within its own deadline.
      await run('systemctl', ['start', '--no-block', unit]);
    },
  };
}
