import { afterEach, describe, expect, it } from 'vitest';
import { spawnSync } from 'node:child_process';
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { BLINKD, freePort, startBlinkd, tempDir } from '../helpers/blinkd.js';

const cleanups: Array<() => unknown> = [];
afterEach(async () => {
  for (const c of cleanups.splice(0).reverse()) await c();
});

const PASSWORD = 'Tr0ub4dor-and-3';

/**
 * ffmpeg prints the input URL in its error ("rtsp://user:pw@host/…: Connection refused"); the unit
 * used to copy that stderr into services.camera.detail on the PUBLIC /health, the camera_lost alarm
 * and the journal. A camera whose RTSP server is down must never show its password anywhere.
 */
describe('RTSP camera credentials', () => {
  it('an RTSP camera that fails shows no password on /health, in the logs, in alarms or in config check', async () => {
    const t = tempDir('blink-rtsp-');
    cleanups.push(t.cleanup);
    const closed = await freePort(); // nothing listens there: ffmpeg fails with the URL in its error
    const env = {
      BLINK_STORE__DATA_DIR: t.dir,
      BLINK_DOOR__DRIVER: 'simulated',
      BLINK_CAMERA__SOURCE: `rtsp://camuser:${PASSWORD}@127.0.0.1:${closed}/stream1`,
      BLINK_CAMERA__RESTART_BACKOFF_MIN_MS: '200',
    };
    const d = await startBlinkd(['run'], { cwd: t.dir, env });
    cleanups.push(() => d.kill());
    const h = await d.waitForHealth(
      (b) =>
        typeof (b.services as Record<string, { detail?: unknown }>).camera?.detail === 'string' &&
        /exited/.test(String((b.services as Record<string, { detail?: unknown }>).camera!.detail)),
      30_000,
      'the camera reported down with ffmpeg’s error',
    );
    const text = JSON.stringify(h);
    // the failure is still explained, with the host, just not the secret
    expect(text).toMatch(/rtsp:\/\/\*\*\*@127\.0\.0\.1/);
    expect(text).not.toContain(PASSWORD);
    d.child.kill('SIGTERM');
    await d.exited;
    const logs = JSON.stringify(d.lines) + d.stderr.join('');
    expect(logs).toMatch(/camera down/);
    expect(logs).not.toContain(PASSWORD);
    // nothing the unit stored (database, WAL, any file in its data folder) holds it either
    for (const f of readdirSync(t.dir)) {
      if (!/\.(db|db-wal|json)$/.test(f)) continue;
      expect(readFileSync(join(t.dir, f)).includes(Buffer.from(PASSWORD)), f).toBe(false);
    }
    const baseEnv = Object.fromEntries(Object.entries(process.env).filter(([k]) => !k.startsWith('BLINK_')));
    const check = spawnSync(process.execPath, [BLINKD, 'config', 'check'], { cwd: t.dir, env: { ...baseEnv, ...env }, encoding: 'utf8' });
    expect(check.status).toBe(0);
    expect(check.stdout).toContain('127.0.0.1');
    expect(check.stdout + check.stderr).not.toContain(PASSWORD);
  }, 60_000);
});
