import { afterEach, describe, expect, it } from 'vitest';
import { spawnSync } from 'node:child_process';
import { closeSync, mkdtempSync, openSync, readFileSync, rmSync, writeFileSync, writeSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { openDatabase } from '../../src/store/database.js';
import { startBlinkd, tempDir, type HealthBody } from '../helpers/blinkd.js';

const cleanups: Array<() => unknown> = [];
afterEach(async () => {
  for (const c of cleanups.splice(0).reverse()) await c();
});

/** A small real filesystem that can fill up (tmpfs; needs root, as on the CI and build machines). */
function smallFilesystem(sizeMb: number): string {
  const dir = mkdtempSync(join(tmpdir(), 'blink-full-'));
  const r = spawnSync('mount', ['-t', 'tmpfs', '-o', `size=${sizeMb}m`, 'tmpfs', dir], { encoding: 'utf8' });
  if (r.status !== 0) throw new Error(`this test mounts a ${sizeMb} MB tmpfs to fill it up and needs root: ${r.stderr.trim()}`);
  cleanups.push(() => {
    spawnSync('umount', ['-l', dir]);
    rmSync(dir, { recursive: true, force: true });
  });
  return dir;
}

/** Writes a filler file until the filesystem is full; returns its path. */
function fill(dir: string): string {
  const path = join(dir, 'filler.bin');
  const fd = openSync(path, 'w');
  const chunk = Buffer.alloc(64 * 1024, 0x5a);
  try {
    for (;;) writeSync(fd, chunk);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== 'ENOSPC') throw err;
  } finally {
    closeSync(fd);
  }
  // the last partial blocks too
  try {
    writeFileSync(join(dir, 'filler2.bin'), Buffer.alloc(4096));
  } catch {
    /* full */
  }
  return path;
}

function exitEvents(dir: string): Array<{ id: string; ts: string }> {
  const db = openDatabase(join(dir, 'blink.db'), { readonly: true });
  try {
    return db.prepare("SELECT id, ts FROM access_events WHERE source = 'exit_button' ORDER BY ts").all() as Array<{ id: string; ts: string }>;
  } finally {
    db.close();
  }
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/**
 * Hardening item 6: on a full filesystem the door still opened but the decisions were not stored
 * while /health said "healthy". Now: the door keeps working (access.grantWhenUnrecorded, default
 * true), the unit says it is degraded and why, raises an alarm, keeps the decisions in memory and
 * writes them, in order, once there is space again.
 */
describe('disk full', () => {
  it('keeps opening, reports degraded with an alarm, queues the decisions and stores them all when space returns', async () => {
    const data = smallFilesystem(4);
    const side = tempDir('blink-full-side-');
    cleanups.push(side.cleanup);
    const inputs = join(side.dir, 'inputs.json');
    writeFileSync(inputs, JSON.stringify({ inputs: { '27': 1 } }));
    const d = await startBlinkd(['run'], {
      cwd: side.dir,
      env: {
        BLINK_STORE__DATA_DIR: data,
        BLINK_STORE__MIN_FREE_MB: '1',
        BLINK_DOOR__DRIVER: 'simulated',
        BLINK_DOOR__SIMULATED_STATE_FILE: join(side.dir, 'gpio.json'),
        BLINK_DOOR__SIMULATED_INPUTS_FILE: inputs,
        BLINK_DOOR__EXIT_BUTTON_PIN: '27',
        BLINK_DOOR__PULSE_MS: '200',
        BLINK_CAMERA__SOURCE: 'images:' + join(side.dir, 'no-camera'),
        BLINK_LOGGING__LEVEL: 'info',
      },
    });
    cleanups.push(() => d.kill());
    await d.waitForHealth();
    const relayOns = () =>
      (JSON.parse(readFileSync(join(side.dir, 'gpio.json'), 'utf8')) as { writes: Array<{ pin: number; level: number }> }).writes.filter(
        (w) => w.pin === 17 && w.level === 1,
      ).length;
    const press = async () => {
      writeFileSync(inputs, JSON.stringify({ inputs: { '27': 0 } }));
      await sleep(250);
      writeFileSync(inputs, JSON.stringify({ inputs: { '27': 1 } }));
      await sleep(350);
    };
    await press();
    await expect.poll(() => exitEvents(data).length).toBe(1);
    const storage = (h: HealthBody) => h.services.storage as { status: string; pendingDecisions: number; freeMb: number };

    const filler = fill(data);
    const onsBefore = relayOns();
    for (let i = 0; i < 8; i++) await press();
    // the door never waited for the disk
    expect(relayOns() - onsBefore).toBe(8);
    const h = await d.waitForHealth((b) => b.alarms.some((a) => a.type === 'storage_failed'), 10_000, 'the storage_failed alarm');
    expect(storage(h).status).toBe('degraded');
    expect(storage(h).pendingDecisions).toBeGreaterThan(0);
    expect(h.alarms.find((a) => a.type === 'storage_failed')!.reason).toMatch(/full/i);
    expect(h.status).not.toBe('healthy');
    await d.waitForHealth((b) => b.alarms.some((a) => a.type === 'disk_low'), 40_000, 'the disk_low alarm');

    rmSync(filler);
    rmSync(join(data, 'filler2.bin'), { force: true });
    const back = await d.waitForHealth(
      (b) => storage(b).pendingDecisions === 0 && !b.alarms.some((a) => a.type === 'storage_failed'),
      20_000,
      'the queued decisions written and the alarm cleared',
    );
    expect(storage(back).status).toBe('running');
    // every press is in the database exactly once, in the order they happened
    const events = exitEvents(data);
    expect(events).toHaveLength(9);
    expect(new Set(events.map((e) => e.id)).size).toBe(9);
    d.child.kill('SIGTERM');
    expect((await d.exited).code).toBe(0);
  }, 120_000);
});
