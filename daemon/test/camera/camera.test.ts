import { afterEach, describe, expect, it } from 'vitest';
import { existsSync, mkdirSync, symlinkSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import sharp from 'sharp';
import { MjpegSplitter, jpegSize } from '../../src/camera/jpeg.js';
import { CameraService } from '../../src/camera/cameraService.js';
import { ProcessFrameSource } from '../../src/camera/processSource.js';
import { createSource, ffmpegArgs, firstVideoDevice, resolveSource } from '../../src/camera/selectSource.js';
import { redactUrl } from '../../src/util/redactUrl.js';
import { AlarmRegistry } from '../../src/alarms/alarmRegistry.js';
import { EventBus, type AlarmEvent } from '../../src/events.js';
import { parseConfig } from '../../src/config/load.js';
import { createLogger } from '../../src/logging.js';
import { testDataDir } from '../../src/system/paths.js';
import { tempDir } from '../helpers/blinkd.js';

const DATA = testDataDir();
const log = createLogger('silent');
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
const cleanups: Array<() => Promise<void> | void> = [];
afterEach(async () => {
  for (const c of cleanups.splice(0).reverse()) await c();
});

function requireData(): void {
  if (!existsSync(DATA)) {
    if (process.env.CI) throw new Error(`shared test data missing at ${DATA}`);
  }
}

function cameraConfig(raw: Record<string, unknown>) {
  return parseConfig({ camera: raw }, 'test').camera;
}

async function solidJpeg(w: number, h: number, v: number): Promise<Buffer> {
  return sharp({ create: { width: w, height: h, channels: 3, background: { r: v, g: v, b: v } } })
    .jpeg()
    .toBuffer();
}

function startCamera(cfg: ReturnType<typeof cameraConfig>, factory?: ConstructorParameters<typeof CameraService>[4]) {
  const bus = new EventBus();
  const alarms: AlarmEvent[] = [];
  const statuses: string[] = [];
  bus.on(alarms, 'alarm', (a) => void alarms.push(a));
  bus.on(statuses, 'camera.status', (s) => void statuses.push(s.status));
  const cam = new CameraService(cfg, bus, new AlarmRegistry(bus, log), log, factory);
  cleanups.push(() => cam.stop());
  return { cam, alarms, statuses };
}

describe('MJPEG splitting', () => {
  it('recovers every JPEG from a stream cut into arbitrary chunks with garbage between images', async () => {
    const images = await Promise.all([solidJpeg(64, 48, 10), solidJpeg(80, 60, 120), solidJpeg(32, 32, 250)]);
    const stream = Buffer.concat([Buffer.from([0x00, 0xff, 0x12]), images[0]!, Buffer.from('junk'), images[1]!, images[2]!, Buffer.from([0xff])]);
    for (const chunk of [1, 7, 100, 4096]) {
      const out: Buffer[] = [];
      const s = new MjpegSplitter((j) => void out.push(j));
      for (let i = 0; i < stream.length; i += chunk) s.push(stream.subarray(i, i + chunk));
      expect(out.map((b) => b.equals(images[out.indexOf(b)]!))).toEqual([true, true, true]);
    }
    expect(jpegSize(images[1]!)).toEqual({ width: 80, height: 60 });
    expect(jpegSize(Buffer.from('not a jpeg'))).toBeNull();
  });

  it('drops an image that exceeds the size limit and resyncs', async () => {
    const out: Buffer[] = [];
    const s = new MjpegSplitter((j) => void out.push(j), 100);
    s.push(Buffer.concat([Buffer.from([0xff, 0xd8]), Buffer.alloc(500, 1)]));
    const small = Buffer.from([0xff, 0xd8, 1, 2, 3, 0xff, 0xd9]);
    s.push(small);
    expect(out).toHaveLength(1);
    expect(out[0]!.equals(small)).toBe(true);
  });
});

describe('camera source selection', () => {
  it('parses every source form and redacts RTSP credentials', () => {
    expect(resolveSource('v4l2:/dev/video2')).toEqual({ kind: 'v4l2', device: '/dev/video2' });
    expect(resolveSource('rtsp://u:p@cam/stream')).toEqual({ kind: 'rtsp', url: 'rtsp://u:p@cam/stream' });
    expect(resolveSource('file:/x/y.mp4')).toEqual({ kind: 'file', path: '/x/y.mp4' });
    expect(resolveSource('images:/x')).toEqual({ kind: 'images', dir: '/x' });
    expect(redactUrl('rtsp://admin:secret@10.0.0.5:554/h264')).toBe('rtsp://***@10.0.0.5:554/h264');
    const args = ffmpegArgs({ kind: 'file', path: '/v.mp4' }, cameraConfig({ loop: true, rotate: 90 }));
    expect(args.join(' ')).toContain('-stream_loop -1 -re -i /v.mp4');
    expect(args.join(' ')).toContain('transpose=1');
    expect(args.slice(-4)).toEqual(['mjpeg', '-q:v', '4', 'pipe:1']);
    expect(() => createSource({ kind: 'file', path: '/does/not/exist.mp4' }, cameraConfig({}))).toThrow(/does not exist/);
    expect(() => createSource({ kind: 'libcamera', binary: '/usr/bin/rpicam-vid' }, cameraConfig({ rotate: 90 }))).toThrow(/only 0 or 180/);
  });

  it('auto-detect on a machine without camera tools or /dev/video*: none, and the service reports "no camera"', async () => {
    const spec = resolveSource('auto');
    // This check is about the host: with no camera hardware the answer must be none.
    if (firstVideoDevice() === null && !existsSync('/usr/bin/rpicam-vid') && !existsSync('/usr/bin/libcamera-vid')) {
      expect(spec.kind).toBe('none');
      const { cam, statuses } = startCamera(cameraConfig({ source: 'auto' }));
      await cam.start();
      expect(cam.cameraState()).toBe('none');
      expect(cam.status()).toBe('degraded');
      expect(cam.health()).toMatchObject({ state: 'none', source: 'none', detail: expect.stringMatching(/^no camera/) });
      expect(statuses).toEqual(['down']);
      expect(await cam.waitUntilReady(10)).toBe(true);
    } else {
      expect(['libcamera', 'v4l2']).toContain(spec.kind);
    }
  });

  it('picks the first /dev/video* that is a camera, skipping Pi codec nodes', () => {
    const t = tempDir();
    cleanups.push(t.cleanup);
    const dev = join(t.dir, 'dev');
    const sys = join(t.dir, 'sys');
    mkdirSync(dev);
    for (const [n, name] of [
      ['video10', 'bcm2835-codec-decode'],
      ['video2', 'USB Camera'],
      ['video19', 'bcm2835-isp'],
      ['video1', 'pispbe'],
    ] as const) {
      writeFileSync(join(dev, n), '');
      mkdirSync(join(sys, n), { recursive: true });
      writeFileSync(join(sys, n, 'name'), name + '\n');
    }
    expect(firstVideoDevice(dev, sys)).toBe(join(dev, 'video2'));
  });
});

describe('camera service', () => {
  it('images: plays a folder at the set rate, scaled to fit, newest wins (drops counted)', async () => {
    requireData();
    const t = tempDir();
    cleanups.push(t.cleanup);
    const dir = join(t.dir, 'seq');
    mkdirSync(dir);
    symlinkSync(join(DATA, 'faces', 'obama', 'obama.jpg'), join(dir, '001.jpg'));
    symlinkSync(join(DATA, 'faces', 'amy', 'amy1.png'), join(dir, '002.png'));
    const { cam } = startCamera(cameraConfig({ source: `images:${dir}`, fps: 20, width: 320, height: 240 }));
    await cam.start();
    expect(await cam.waitUntilReady(5000)).toBe(true);
    await sleep(1100);
    const h = cam.snapshot();
    expect(h.state).toBe('up');
    expect(h.fps).toBeGreaterThan(14);
    expect(h.fps).toBeLessThan(26);
    // nobody took frames: all but the newest were dropped
    expect(h.dropped).toBe(h.frames - 1);
    const f = cam.take()!;
    expect(f.format).toBe('jpeg');
    expect(f.width).toBeLessThanOrEqual(320);
    expect(f.height).toBeLessThanOrEqual(240);
    expect(Date.now() - f.capturedAt).toBeLessThan(200);
    expect(cam.take()).toBeNull();
  });

  it('file: replays a real video through ffmpeg at 640x480 with increasing capture timestamps', async () => {
    requireData();
    const { cam } = startCamera(cameraConfig({ source: `file:${join(DATA, 'video', 'focus_mahie_test_1.avi')}`, fps: 15 }));
    const seen: Array<{ seq: number; t: number; w: number; h: number }> = [];
    cam.onFrame(() => {
      const f = cam.take();
      if (f) seen.push({ seq: f.seq, t: f.capturedAt, w: f.width, h: f.height });
    });
    await cam.start();
    expect(await cam.waitUntilReady(10_000)).toBe(true);
    await sleep(1500);
    expect(seen.length).toBeGreaterThan(12);
    expect(seen[0]).toMatchObject({ w: 640, h: 480 });
    for (let i = 1; i < seen.length; i++) {
      expect(seen[i]!.seq).toBeGreaterThan(seen[i - 1]!.seq);
      expect(seen[i]!.t).toBeGreaterThanOrEqual(seen[i - 1]!.t);
    }
    expect(cam.snapshot().dropped).toBe(0);
  });

  it('file: play-once ends as finished, without restarts or alarms', async () => {
    requireData();
    const { cam, alarms } = startCamera(cameraConfig({ source: `file:${join(DATA, 'video', 'dinoman_example_blink2.mp4')}`, loop: false, fps: 25 }));
    await cam.start();
    await sleep(4500);
    const h = cam.snapshot();
    expect(h.state).toBe('finished');
    expect(h.frames).toBeGreaterThan(50);
    expect(h.restarts).toBe(0);
    expect(alarms).toEqual([]);
  });

  it('a dying source is restarted with backoff; camera_lost is raised and cleared', async () => {
    const t = tempDir();
    cleanups.push(t.cleanup);
    const jpg = join(t.dir, 'a.jpg');
    writeFileSync(jpg, await solidJpeg(64, 48, 90));
    const cfg = cameraConfig({ restartBackoffMinMs: 200, restartBackoffMaxMs: 1000 });
    const { cam, alarms, statuses } = startCamera(
      cfg,
      () => new ProcessFrameSource('dies', '/bin/sh', ['-c', `cat ${jpg}; sleep 0.3; echo broken >&2; exit 3`]),
    );
    await cam.start();
    await sleep(1500);
    const h = cam.snapshot();
    expect(h.restarts).toBeGreaterThanOrEqual(1);
    expect(statuses.slice(0, 3)).toEqual(['up', 'down', 'up']);
    expect(alarms[0]).toMatchObject({ type: 'camera_lost', active: true, reason: expect.stringContaining('code 3') });
    expect(alarms[1]).toMatchObject({ type: 'camera_lost', active: false });
  });

  it('a frozen source (alive, no frames) is detected, reported and restarted', async () => {
    const t = tempDir();
    cleanups.push(t.cleanup);
    const jpg = join(t.dir, 'a.jpg');
    writeFileSync(jpg, await solidJpeg(64, 48, 90));
    const cfg = { ...cameraConfig({ restartBackoffMinMs: 100 }), frozenAfterMs: 300 };
    const { cam, statuses } = startCamera(cfg, () => new ProcessFrameSource('freezes', '/bin/sh', ['-c', `cat ${jpg}; exec sleep 30`]));
    await cam.start();
    await sleep(1200);
    expect(statuses.slice(0, 2)).toEqual(['up', 'down']);
    expect(cam.snapshot().restarts).toBeGreaterThanOrEqual(1);
  });

  it('a missing images folder is reported (down), not a crash', async () => {
    const { cam, alarms } = startCamera(cameraConfig({ source: 'images:/nonexistent/blink', restartBackoffMinMs: 100 }));
    await cam.start();
    await sleep(50);
    expect(cam.snapshot()).toMatchObject({ state: 'down', detail: expect.stringContaining('ENOENT') });
    expect(alarms[0]).toMatchObject({ type: 'camera_lost', active: true });
  });
});
