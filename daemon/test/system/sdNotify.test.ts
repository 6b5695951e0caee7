import { afterEach, describe, expect, it } from 'vitest';
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { REPO_ROOT, startBlinkd, tempDir, type RunningBlinkd } from '../helpers/blinkd.js';
import { SdNotifier, watchdogIntervalMs } from '../../src/system/sdNotify.js';
import { testDataDir } from '../../src/system/paths.js';
import { startNotifyListener, type NotifyListener } from './notifyListener.js';
import { verifyUnits } from '../helpers/systemdUnits.js';

const cleanups: Array<() => unknown> = [];
afterEach(async () => {
  for (const c of cleanups.splice(0).reverse()) await c();
});

/** Child processes of `pid` named `comm` (from /proc). */
function childrenNamed(pid: number, comm: string): number[] {
  const out: number[] = [];
  for (const e of readdirSync('/proc')) {
    if (!/^\d+$/.test(e)) continue;
    try {
      const stat = readFileSync(`/proc/${e}/stat`, 'utf8');
      const name = stat.slice(stat.indexOf('(') + 1, stat.lastIndexOf(')'));
      const ppid = Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[1]);
      if (ppid === pid && name === comm) out.push(Number(e));
    } catch {
      /* gone */
    }
  }
  return out;
}

describe('systemd unit', () => {
  it('systemd-analyze verify accepts systemd/blinkd.service', () => {
    const r = verifyUnits(['blinkd.service'], cleanups);
    expect(r.stderr).toBe('');
    expect(r.status).toBe(0);
    const unit = readFileSync(join(REPO_ROOT, 'systemd', 'blinkd.service'), 'utf8');
    for (const line of [
      'Type=notify',
      'NotifyAccess=all',
      'Restart=on-failure',
      'RestartPreventExitStatus=65 78',
      'User=blink',
      'StateDirectory=blink',
      'ProtectSystem=strict',
      'NoNewPrivileges=yes',
    ]) {
      expect(unit).toContain(line);
    }
    expect(unit).toMatch(/^WatchdogSec=\d+/m);
    expect(unit).toMatch(/^ExecStopPost=.*blinkd\.js relay off/m);
  });
});

describe('sd_notify', () => {
  it('SdNotifier sends fields to NOTIFY_SOCKET through systemd-notify (MAINPID = this process)', async () => {
    const t = tempDir();
    cleanups.push(t.cleanup);
    const l = await startNotifyListener(t.dir);
    cleanups.push(l.close);
    const n = new SdNotifier({ NOTIFY_SOCKET: l.socket, PATH: process.env.PATH });
    expect(n.enabled).toBe(true);
    expect(await n.notify({ READY: 1, STATUS: 'two\nlines' })).toBe(true);
    const m = await l.waitFor((x) => x.fields.READY === '1');
    expect(m.fields).toMatchObject({ READY: '1', STATUS: 'two lines', MAINPID: String(process.pid) });
    expect(new SdNotifier({}).enabled).toBe(false);
    expect(await new SdNotifier({}).notify({ READY: 1 })).toBe(false);
    expect(watchdogIntervalMs({ WATCHDOG_USEC: '20000000' })).toBe(10_000);
    expect(watchdogIntervalMs({ WATCHDOG_USEC: '20000000', WATCHDOG_PID: '1' }, 2)).toBeNull();
    expect(watchdogIntervalMs({})).toBeNull();
  });

  it('blinkd run: READY with STATUS, WATCHDOG pings that stop when frames stop and resume, STOPPING on SIGTERM', async () => {
    const data = testDataDir();
    if (!existsSync(data)) {
      if (process.env.CI) throw new Error(`shared test data missing at ${data}`);
    }
    const t = tempDir();
    cleanups.push(t.cleanup);
    const l: NotifyListener = await startNotifyListener(t.dir);
    cleanups.push(l.close);
    const d: RunningBlinkd = await startBlinkd(['run'], {
      cwd: t.dir,
      env: {
        NOTIFY_SOCKET: l.socket,
        WATCHDOG_USEC: '1000000', // ping every 500 ms
        BLINK_DOOR__DRIVER: 'simulated',
        BLINK_CAMERA__SOURCE: `file:${join(data, 'video', 'focus_mahie_test_1.avi')}`,
        BLINK_CAMERA__FPS: '10',
        BLINK_CAMERA__FROZEN_AFTER_MS: '1000',
        BLINK_CAMERA__RESTART_BACKOFF_MIN_MS: '1000', // frames cannot resume inside the silent window below
        BLINK_LOGGING__LEVEL: 'info',
      },
    });
    cleanups.push(() => d.kill());
    const ready = await l.waitFor((m) => m.fields.READY === '1', 60_000);
    expect(ready.fields.STATUS).toMatch(/camera up [\d.]+ fps, vision [\d.]+ fps, 0 people enrolled, door normal/);
    expect(ready.fields.MAINPID).toBe(String(d.child.pid));
    // pings while healthy
    await new Promise((r) => setTimeout(r, 2000));
    const pings = () => l.messages.filter((m) => m.fields.WATCHDOG === '1');
    expect(pings().length).toBeGreaterThanOrEqual(3);
    // freeze the camera: stop ffmpeg without killing it
    const [ffmpeg] = childrenNamed(d.child.pid!, 'ffmpeg');
    expect(ffmpeg).toBeTypeOf('number');
    process.kill(ffmpeg!, 'SIGSTOP');
    const frozenAt = Date.now();
    await l.waitFor((m) => m.t >= frozenAt && (m.fields.STATUS ?? '').startsWith('unhealthy: camera'), 10_000);
    const silentFrom = Date.now();
    const before = pings().length;
    await new Promise((r) => setTimeout(r, 1200));
    // The camera service kills the frozen ffmpeg and starts a new one; until its frames flow, no ping.
    const during = pings().filter((m) => m.t > silentFrom && m.t < silentFrom + 1200);
    expect(during).toEqual([]);
    process.kill(ffmpeg!, 'SIGCONT'); // lets the SIGTERM it already got take effect, if the SIGKILL did not
    await l.waitFor((m) => m.t > silentFrom && m.fields.WATCHDOG === '1', 20_000);
    expect(pings().length).toBeGreaterThan(before);
    d.child.kill('SIGTERM');
    const exit = await d.exited;
    expect(exit.code).toBe(0);
    await l.waitFor((m) => m.fields.STOPPING === '1', 5000);
  });
});
