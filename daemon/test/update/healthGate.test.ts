import { afterEach, describe, expect, it } from 'vitest';
import { chmodSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { runHealthGate, systemdActiveCheck, type HealthCheck } from '../../src/update/healthGate.js';
import { tempDir } from '../helpers/blinkd.js';

const cleanups: Array<() => void> = [];
afterEach(() => {
  for (const c of cleanups.splice(0)) c();
});

describe('health gate', () => {
  it('ends at once on a terminal failure (fatal), naming the check and why, instead of waiting out the deadline', async () => {
    let rounds = 0;
    const ready: HealthCheck = { name: 'ready', check: async () => ({ ok: false, detail: 'connection refused' }) };
    const unit: HealthCheck = {
      name: 'unit',
      check: async () => (++rounds < 3 ? { ok: false, detail: 'activating' } : { ok: false, fatal: true, detail: 'blinkd.service failed' }),
    };
    const after: HealthCheck = { name: 'after', check: async () => ({ ok: false, detail: 'must not run in the fatal round' }) };
    const progress: string[] = [];
    const started = Date.now();
    const gate = await runHealthGate([ready, unit, after], { deadlineMs: 20_000, intervalMs: 50, progress: (m) => progress.push(m) });
    const elapsed = Date.now() - started;
    expect(gate).toMatchObject({ ok: false, rounds: 3, fatal: 'unit' });
    expect(elapsed).toBeLessThan(5_000);
    expect(gate.checks.map((c) => c.name)).toEqual(['ready', 'unit']);
    expect(progress.at(-1)).toMatch(/^health gate: unit failed for good: blinkd\.service failed \(after \d+\.\d s: not waiting for the deadline\)$/);
  }, 40_000);

  it('a failing check without fatal still waits until the deadline', async () => {
    const gate = await runHealthGate([{ name: 'relay', check: async () => ({ ok: false, detail: 'relay on' }) }], { deadlineMs: 600, intervalMs: 50 });
    expect(gate.ok).toBe(false);
    expect(gate.fatal).toBeUndefined();
    expect(gate.rounds).toBeGreaterThan(3);
    expect(gate.elapsedMs).toBeGreaterThan(500);
  });

  it('systemd check: "active" passes, "activating" waits, "failed" and a restart by systemd are terminal', async () => {
    const t = tempDir('blink-gate-');
    cleanups.push(t.cleanup);
    const stateFile = join(t.dir, 'state');
    const systemctl = join(t.dir, 'systemctl');
    // Prints the state in the file for exactly the call the check makes, fails for anything else.
    writeFileSync(
      systemctl,
      `#!/bin/sh\n[ "$*" = "show -p ActiveState -p SubState -p NRestarts blinkd.service" ] || { echo "unexpected: $*" >&2; exit 1; }\ncat '${stateFile}'\n`,
    );
    chmodSync(systemctl, 0o755);
    const check = systemdActiveCheck('blinkd.service', systemctl);
    // systemctl show prints the properties in its own order, one key=value per line
    const at = async (state: string, sub: string, restarts = 0) => {
      writeFileSync(stateFile, `NRestarts=${restarts}\nActiveState=${state}\nSubState=${sub}\n`);
      return check.check(AbortSignal.timeout(5_000));
    };
    expect(await at('active', 'running')).toEqual({ ok: true, detail: 'active (READY)' });
    expect(await at('activating', 'start')).toEqual({ ok: false, detail: 'activating' });
    expect(await at('failed', 'failed', 9)).toEqual({ ok: false, fatal: true, detail: 'blinkd.service failed (systemd does not restart it)' });
    // exited, systemd waits RestartSec before the next start
    expect(await at('activating', 'auto-restart')).toEqual({
      ok: false,
      fatal: true,
      detail: 'blinkd.service exited and systemd is restarting it (NRestarts 0, SubState auto-restart)',
    });
    // restarted once already, starting again
    expect(await at('activating', 'start', 1)).toMatchObject({ ok: false, fatal: true });
    expect(await at('active', 'running', 2)).toMatchObject({ ok: false, fatal: true });
  });
});
