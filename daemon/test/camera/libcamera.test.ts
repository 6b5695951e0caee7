import { afterEach, describe, expect, it } from 'vitest';
import { chmodSync, existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { CameraService } from '../../src/camera/cameraService.js';
import { firstVideoDevice, resolveSource } from '../../src/camera/selectSource.js';
import { AlarmRegistry } from '../../src/alarms/alarmRegistry.js';
import { EventBus } from '../../src/events.js';
import { parseConfig } from '../../src/config/load.js';
import { createLogger } from '../../src/logging.js';
import { testDataDir } from '../../src/system/paths.js';
import { tempDir } from '../helpers/blinkd.js';

// The camera hardware is what is simulated here: a stand-in `rpicam-vid` on PATH that answers
// --list-cameras like the real tool and streams MJPEG to stdout (via ffmpeg from a replay) at
// the size and rate it was asked for. blinkd's detection, arguments and stream handling are real.
const VIDEO = join(testDataDir(), 'video', 'focus_mahie_test_1.avi');
if (!existsSync(VIDEO) && process.env.CI) throw new Error(`shared test data missing at ${VIDEO}`);

const cleanups: Array<() => Promise<void> | void> = [];
const savedPath = process.env.PATH;
afterEach(async () => {
  process.env.PATH = savedPath;
  for (const c of cleanups.splice(0).reverse()) await c();
});

function fakeTool(dir: string, name: string, cameras: boolean): string {
  const bin = join(dir, 'bin');
  mkdirSync(bin, { recursive: true });
  const file = join(bin, name);
  writeFileSync(
    file,
    `#!/bin/sh
if [ "$1" = "--list-cameras" ]; then
  ${cameras ? `echo "Available cameras"; echo "-----------------"; echo "0 : imx708 [4608x2592 10-bit RGGB] (/base/axi/pcie@120000/rp1/i2c@88000/imx708@1a)"` : 'echo "No cameras available!"'}
  exit 0
fi
echo "$@" > "${join(dir, 'args.txt')}"
w=640; h=480; fps=30
while [ $# -gt 0 ]; do
  case "$1" in --width) w=$2; shift ;; --height) h=$2; shift ;; --framerate) fps=$2; shift ;; esac
  shift
done
exec ffmpeg -hide_banner -loglevel error -nostdin -stream_loop -1 -re -i "${VIDEO}" -an -vf "scale=$w:$h,fps=$fps" -f mjpeg pipe:1
`,
  );
  chmodSync(file, 0o755);
  return bin;
}

describe.runIf(existsSync(VIDEO))('libcamera source (rpicam-vid stand-in)', () => {
  it('auto picks libcamera when rpicam-vid lists a camera, streams at the configured size, with rpicam-vid MJPEG arguments', async () => {
    const t = tempDir();
    cleanups.push(t.cleanup);
    const bin = fakeTool(t.dir, 'rpicam-vid', true);
    process.env.PATH = `${bin}:${savedPath}`;
    expect(resolveSource('auto')).toEqual({ kind: 'libcamera', binary: join(bin, 'rpicam-vid') });
    const bus = new EventBus();
    const cam = new CameraService(
      parseConfig({ camera: { source: 'auto', width: 320, height: 240, fps: 10, rotate: 180 } }, 't').camera,
      bus,
      new AlarmRegistry(bus, createLogger('silent')),
      createLogger('silent'),
    );
    cleanups.push(() => cam.stop());
    await cam.start();
    expect(await cam.waitUntilReady(10_000)).toBe(true);
    await new Promise((r) => setTimeout(r, 1200));
    const snap = cam.snapshot();
    expect(snap).toMatchObject({ state: 'up', width: 320, height: 240, source: expect.stringContaining('libcamera') });
    expect(snap.fps).toBeGreaterThan(6);
    const args = readFileSync(join(t.dir, 'args.txt'), 'utf8').trim();
    expect(args).toBe('-t 0 -n --codec mjpeg --width 320 --height 240 --framerate 10 --flush --rotation 180 -o -');
  });

  it('falls back to libcamera-vid (Bullseye); a tool that lists no camera means no camera', () => {
    const t = tempDir();
    cleanups.push(t.cleanup);
    const old = fakeTool(t.dir, 'libcamera-vid', true);
    process.env.PATH = `${old}:/usr/bin:/bin`;
    expect(resolveSource('libcamera')).toEqual({ kind: 'libcamera', binary: join(old, 'libcamera-vid') });
    const t2 = tempDir();
    cleanups.push(t2.cleanup);
    const none = fakeTool(t2.dir, 'rpicam-vid', false);
    process.env.PATH = `${none}:/usr/bin:/bin`;
    const spec = resolveSource('auto');
    if (firstVideoDevice() === null) expect(spec).toMatchObject({ kind: 'none', reason: expect.stringContaining('lists none') });
  });
});
