import { afterEach, describe, expect, it } from 'vitest';
import { spawnSync } from 'node:child_process';
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { pathToFileURL } from 'node:url';
import { join } from 'node:path';
import { BLINKD, startBlinkd, tempDir } from '../helpers/blinkd.js';
import { Store } from '../../src/store/store.js';
import { openDatabase } from '../../src/store/database.js';

const cleanups: Array<() => unknown> = [];
afterEach(async () => {
  for (const c of cleanups.splice(0).reverse()) await c();
});

/** Access events recorded with source exit_button (read from the unit's database by another connection, as an operator would). */
function exitEvents(dir: string): number {
  const db = openDatabase(join(dir, 'blink.db'), { readonly: true });
  try {
    return (db.prepare("SELECT count(*) AS n FROM access_events WHERE source = 'exit_button'").get() as { n: number }).n;
  } catch {
    return 0;
  } finally {
    db.close();
  }
}

function relayLevel(stateFile: string): number | undefined {
  return (JSON.parse(readFileSync(stateFile, 'utf8')) as { outputs: Record<string, number> }).outputs['17'];
}

async function until(pred: () => boolean, timeoutMs: number, what: string): Promise<void> {
  const start = Date.now();
  while (!pred()) {
    if (Date.now() - start > timeoutMs) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 25));
  }
}

function doorEnv(dir: string): Record<string, string> {
  return {
    BLINK_DOOR__DRIVER: 'simulated',
    BLINK_DOOR__SIMULATED_STATE_FILE: join(dir, 'gpio.json'),
    BLINK_DOOR__SIMULATED_INPUTS_FILE: join(dir, 'inputs.json'),
    BLINK_DOOR__EXIT_BUTTON_PIN: '27',
    BLINK_DOOR__CONTACT_PIN: '22',
    BLINK_DOOR__PULSE_MS: '20000',
    BLINK_CAMERA__SOURCE: 'images:' + join(dir, 'no-camera'),
    BLINK_STORE__DATA_DIR: dir,
    BLINK_LOGGING__LEVEL: 'info',
  };
}

describe('door in a running blinkd (simulated GPIO driven from another process)', () => {
  it('exit button opens and is logged as an access event; SIGTERM mid-unlock leaves the relay off', async () => {
    const t = tempDir();
    cleanups.push(t.cleanup);
    const gpio = join(t.dir, 'gpio.json');
    writeFileSync(join(t.dir, 'inputs.json'), JSON.stringify({ inputs: { '27': 1, '22': 0 } }));
    const d = await startBlinkd(['run'], { cwd: t.dir, env: doorEnv(t.dir) });
    cleanups.push(() => d.kill());
    await d.waitForHealth();
    expect(relayLevel(gpio)).toBe(0);
    // press the request-to-exit button (active low)
    writeFileSync(join(t.dir, 'inputs.json'), JSON.stringify({ inputs: { '27': 0, '22': 0 } }));
    await until(() => relayLevel(gpio) === 1, 3000, 'relay on after the exit button');
    await until(() => exitEvents(t.dir) === 1, 3000, 'the exit request recorded as an access event');
    // the door opens during the unlock: no forced-open alarm
    writeFileSync(join(t.dir, 'inputs.json'), JSON.stringify({ inputs: { '27': 1, '22': 1 } }));
    await until(() => (JSON.parse(readFileSync(gpio, 'utf8')) as { inputs: Record<string, number> }).inputs['22'] === 1, 3000, 'contact open');
    await new Promise((r) => setTimeout(r, 200));
    expect((await d.waitForHealth()).alarms.map((a) => a.type)).not.toContain('forced_open');
    d.child.kill('SIGTERM');
    expect((await d.exited).code).toBe(0);
    expect(relayLevel(gpio)).toBe(0);
    // A stop is not a crash: the controller's exit is expected (no restart, no error), and the
    // pin mirror is the controller's own, its history intact (the pulse is still in it).
    expect(d.lines.filter((l) => l.level === 'error').map((l) => l.msg)).toEqual([]);
    const writes = (JSON.parse(readFileSync(gpio, 'utf8')) as { writes: Array<{ pin: number; level: number }> }).writes;
    expect(writes.filter((w) => w.pin === 17 && w.level === 1)).toHaveLength(1);
    const store = Store.open(join(t.dir, 'blink.db'));
    try {
      const events = store.events.query();
      expect(events).toHaveLength(1);
      expect(events[0]).toMatchObject({ result: 'GRANTED', reason: 'exit_request', source: 'exit_button', personId: null });
    } finally {
      store.close();
    }
  });

  it('an uncaught error inside a running blinkd (mid-unlock) turns the relay off and exits 1 for a restart', async () => {
    const t = tempDir();
    cleanups.push(t.cleanup);
    const gpio = join(t.dir, 'gpio.json');
    const trigger = join(t.dir, 'crash-now');
    // Preloaded into the real `blinkd run` process: throws from a timer once the trigger file exists.
    const preload = join(t.dir, 'crash.mjs');
    writeFileSync(
      preload,
      `import { existsSync } from 'node:fs';\nconst t = setInterval(() => { if (existsSync(${JSON.stringify(trigger)})) { clearInterval(t); throw new Error('injected crash'); } }, 20);\nt.unref();\n`,
    );
    writeFileSync(join(t.dir, 'inputs.json'), JSON.stringify({ inputs: { '27': 1, '22': 0 } }));
    const d = await startBlinkd(['run'], { cwd: t.dir, env: { ...doorEnv(t.dir), NODE_OPTIONS: `--import=${pathToFileURL(preload).href}` } });
    cleanups.push(() => d.kill());
    await d.waitForHealth();
    writeFileSync(join(t.dir, 'inputs.json'), JSON.stringify({ inputs: { '27': 0, '22': 0 } }));
    await until(() => relayLevel(gpio) === 1, 3000, 'relay on after the exit button');
    writeFileSync(trigger, '');
    const exit = await d.exited;
    expect(exit.code).toBe(1);
    const fatal = d.lines.find((l) => l.level === 'fatal');
    expect(fatal).toMatchObject({ relay: 'off', kind: 'uncaughtException' });
    expect(JSON.stringify(fatal)).toContain('injected crash');
    expect(relayLevel(gpio)).toBe(0);
  });

  it('forced open is alarmed; after SIGKILL mid-unlock the door controller turns the relay off by itself, and `blinkd relay off` (ExecStopPost) still works', async () => {
    const t = tempDir();
    cleanups.push(t.cleanup);
    const gpio = join(t.dir, 'gpio.json');
    writeFileSync(join(t.dir, 'inputs.json'), JSON.stringify({ inputs: { '27': 1, '22': 0 } }));
    const env = doorEnv(t.dir);
    const d = await startBlinkd(['run'], { cwd: t.dir, env });
    cleanups.push(() => d.kill());
    await d.waitForHealth();
    writeFileSync(join(t.dir, 'inputs.json'), JSON.stringify({ inputs: { '27': 1, '22': 1 } }));
    await d.waitForHealth((h) => h.alarms.some((a) => a.type === 'forced_open'), 3000, 'the forced_open alarm');
    writeFileSync(join(t.dir, 'inputs.json'), JSON.stringify({ inputs: { '27': 0, '22': 1 } }));
    await until(() => relayLevel(gpio) === 1, 3000, 'relay on');
    d.child.kill('SIGKILL'); // no handler of the daemon runs...
    await d.exited;
    // ...but the door controller process sees its IPC channel close and turns the relay off by itself
    // (before, a SIGKILL outside systemd left the relay energized until ExecStopPost ran).
    await until(() => relayLevel(gpio) === 0, 3000, 'relay off after the daemon was killed');
    const baseEnv = Object.fromEntries(Object.entries(process.env).filter(([k]) => !k.startsWith('BLINK_')));
    const off = spawnSync(process.execPath, [BLINKD, 'relay', 'off'], { cwd: t.dir, env: { ...baseEnv, ...env }, encoding: 'utf8' });
    expect(off.status).toBe(0);
    expect(JSON.parse(off.stdout)).toMatchObject({ driver: 'simulated', pin: 17, level: 0, relay: 'off' });
    expect(relayLevel(gpio)).toBe(0);
    const status = spawnSync(process.execPath, [BLINKD, 'relay', 'status'], { cwd: t.dir, env: { ...baseEnv, ...env }, encoding: 'utf8' });
    expect(JSON.parse(status.stdout)).toMatchObject({ relay: 'off', level: 0 });
    const pulse = spawnSync(process.execPath, [BLINKD, 'relay', 'pulse', '--ms', '150'], { cwd: t.dir, env: { ...baseEnv, ...env }, encoding: 'utf8' });
    expect(
      pulse.stdout
        .trim()
        .split('\n')
        .map((l) => (JSON.parse(l) as { relay: string }).relay),
    ).toEqual(['on', 'off']);
    const bad = spawnSync(process.execPath, [BLINKD, 'relay', 'pulse', '--ms', 'soon'], { cwd: t.dir, env: { ...baseEnv, ...env }, encoding: 'utf8' });
    expect(bad.status).toBe(2);
    expect(bad.stderr).toContain('--ms must be an integer');
  });

  it("a test's kill() returns only once the door controller is gone too, so the data directory can be removed (the ENOTEMPTY race CI hit)", async () => {
    // The controller outlives a SIGKILLed daemon by a moment and writes gpio.json as it turns the
    // relay off. Removing the directory on the daemon's exit alone failed with ENOTEMPTY in CI.
    for (let i = 0; i < 3; i++) {
      const t = tempDir();
      writeFileSync(join(t.dir, 'inputs.json'), JSON.stringify({ inputs: { '27': 1, '22': 0 } }));
      const d = await startBlinkd(['run'], { cwd: t.dir, env: doorEnv(t.dir) });
      const h = await d.waitForHealth();
      const pid = (h.services.door!.controller as { pid: number }).pid;
      expect(pid).toBeGreaterThan(0);
      await d.kill();
      expect(existsSync(`/proc/${pid}`) && !readFileSync(`/proc/${pid}/stat`, 'utf8').includes(') Z ')).toBe(false);
      expect(relayLevel(join(t.dir, 'gpio.json'))).toBe(0);
      t.cleanup();
    }
  });
});
