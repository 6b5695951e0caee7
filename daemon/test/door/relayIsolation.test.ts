import { afterEach, describe, expect, it } from 'vitest';
import { spawn } from 'node:child_process';
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { REPO_ROOT, startBlinkd, tempDir } from '../helpers/blinkd.js';

/**
 * Hardening item 5: "the relay waits for the disk". Another process holds the database's write
 * lock while the exit button is pressed; the daemon's main thread then blocks on its write of
 * the access event. The pulse must still last door.pulseMs: its timer is the door controller's,
 * not the main thread's. (Before, a 1 s pulse lasted as long as the lock was held.)
 */
const cleanups: Array<() => unknown> = [];
afterEach(async () => {
  for (const c of cleanups.splice(0).reverse()) await c();
});

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

function state(file: string): { outputs: Record<string, number>; writes: Array<{ pin: number; level: number; t: number }> } {
  return JSON.parse(readFileSync(file, 'utf8')) as never;
}

/** Another process that takes the write lock (BEGIN IMMEDIATE) for `ms`, then releases it. */
function holdWriteLock(db: string, ms: number): Promise<number | null> {
  const script = `
    const Database = (await import(${JSON.stringify(join(REPO_ROOT, 'node_modules', 'better-sqlite3', 'lib', 'index.js'))})).default;
    const db = new Database(${JSON.stringify(db)});
    db.pragma('busy_timeout = 10000');
    db.exec('BEGIN IMMEDIATE');
    console.log('locked');
    Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, ${ms});
    db.exec('COMMIT');
    db.close();`;
  const p = spawn(process.execPath, ['--input-type=module', '-e', script], { stdio: ['ignore', 'pipe', 'inherit'] });
  cleanups.push(() => void p.kill('SIGKILL'));
  return new Promise((resolve) => {
    p.stdout.on('data', (d: Buffer) => {
      if (d.toString().includes('locked')) resolve(p.pid ?? null);
    });
  });
}

describe('the relay never waits for the disk', () => {
  it('a 1 s exit-button pulse lasts 1 s while another process holds the database write lock for 4 s', async () => {
    const t = tempDir('blink-isolation-');
    cleanups.push(t.cleanup);
    const gpio = join(t.dir, 'gpio.json');
    const inputs = join(t.dir, 'inputs.json');
    writeFileSync(inputs, JSON.stringify({ inputs: { '27': 1 } }));
    const d = await startBlinkd(['run'], {
      cwd: t.dir,
      env: {
        BLINK_STORE__DATA_DIR: t.dir,
        BLINK_DOOR__DRIVER: 'simulated',
        BLINK_DOOR__SIMULATED_STATE_FILE: gpio,
        BLINK_DOOR__SIMULATED_INPUTS_FILE: inputs,
        BLINK_DOOR__EXIT_BUTTON_PIN: '27',
        BLINK_DOOR__DEBOUNCE_MS: '0',
        BLINK_DOOR__PULSE_MS: '1000',
        BLINK_CAMERA__SOURCE: 'images:' + join(t.dir, 'none'),
        BLINK_LOGGING__LEVEL: 'info',
      },
    });
    cleanups.push(() => d.kill());
    await d.waitForHealth();
    await holdWriteLock(join(t.dir, 'blink.db'), 4000);
    writeFileSync(inputs, JSON.stringify({ inputs: { '27': 0 } })); // press
    await sleep(300);
    writeFileSync(inputs, JSON.stringify({ inputs: { '27': 1 } })); // release
    await sleep(6000); // past the lock and the pulse
    const writes = state(gpio).writes.filter((w) => w.pin === 17);
    const on = writes.findIndex((w) => w.level === 1);
    expect(on, JSON.stringify(writes)).toBeGreaterThanOrEqual(0);
    const off = writes.slice(on + 1).find((w) => w.level === 0)!;
    const length = off.t - writes[on]!.t;
    expect(length).toBeGreaterThanOrEqual(990);
    expect(length).toBeLessThan(1100);
    // The decision was not lost: the press is on record once the lock went away.
    const h = await d.waitForHealth();
    expect(h.status).not.toBe('unhealthy');
  }, 60_000);
});
