import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { spawnSync } from 'node:child_process';
import { join } from 'node:path';
import type { Config } from '../config/schema.js';
import type { FrameSource } from './frameSource.js';
import { ImagesFrameSource } from './imagesSource.js';
import { ProcessFrameSource } from './processSource.js';
import { redactUrl } from '../util/redactUrl.js';
import { findExecutable } from '../util/which.js';

type CameraConfig = Config['camera'];

export type SourceSpec =
  | { kind: 'libcamera'; binary: string }
  | { kind: 'v4l2'; device: string }
  | { kind: 'rtsp'; url: string }
  | { kind: 'file'; path: string }
  | { kind: 'images'; dir: string }
  | { kind: 'none'; reason: string };

/** rpicam-vid (Bookworm) or libcamera-vid (Bullseye), or null. */
export function libcameraBinary(): string | null {
  return findExecutable('rpicam-vid') ?? findExecutable('libcamera-vid');
}

/** Does `<binary> --list-cameras` list at least one camera? */
export function libcameraHasCamera(binary: string): boolean {
  const r = spawnSync(binary, ['--list-cameras'], { encoding: 'utf8', timeout: 5000 });
  const out = `${r.stdout ?? ''}${r.stderr ?? ''}`;
  return r.status === 0 && /^\s*\d+\s*:\s*\S+/m.test(out) && !/No cameras available/i.test(out);
}

/** Pi codec/ISP nodes are /dev/video* too, but not cameras. */
const NOT_A_CAMERA = /codec|isp|hevc|rpivid|pispbe|unicam-embedded|bcm2835-v4l2-isp|mem2mem/i;

/** The first /dev/videoN that looks like a camera (by its sysfs name), or null. */
export function firstVideoDevice(dev = '/dev', sysfs = '/sys/class/video4linux'): string | null {
  let names: string[];
  try {
    names = readdirSync(dev).filter((n) => /^video\d+$/.test(n));
  } catch {
    return null;
  }
  names.sort((a, b) => Number(a.slice(5)) - Number(b.slice(5)));
  for (const n of names) {
    let label = '';
    try {
      label = readFileSync(join(sysfs, n, 'name'), 'utf8').trim();
    } catch {
      /* no sysfs entry: assume a camera */
    }
    if (!NOT_A_CAMERA.test(label)) return join(dev, n);
  }
  return null;
}

/** Parses camera.source (auto | libcamera | v4l2:/dev/videoN | rtsp://… | file:PATH | images:DIR); auto-detects. */
export function resolveSource(source: string): SourceSpec {
  if (source === 'auto') {
    const bin = libcameraBinary();
    if (bin && libcameraHasCamera(bin)) return { kind: 'libcamera', binary: bin };
    const dev = firstVideoDevice();
    if (dev) return { kind: 'v4l2', device: dev };
    return {
      kind: 'none',
      reason: bin ? `no camera: ${bin} lists none and there is no /dev/video* camera` : 'no camera: no libcamera tools and no /dev/video* camera',
    };
  }
  if (source === 'libcamera') {
    const bin = libcameraBinary();
    return bin
      ? { kind: 'libcamera', binary: bin }
      : {
          kind: 'none',
          reason: 'no camera: camera.source is libcamera but neither rpicam-vid nor libcamera-vid is installed (apt-get install rpicam-apps-lite)',
        };
  }
  if (source.startsWith('v4l2:')) return { kind: 'v4l2', device: source.slice(5) };
  if (source.startsWith('rtsp://') || source.startsWith('rtsps://')) return { kind: 'rtsp', url: source };
  if (source.startsWith('file:')) return { kind: 'file', path: source.slice(5) };
  if (source.startsWith('images:')) return { kind: 'images', dir: source.slice(7) };
  return { kind: 'none', reason: `camera.source "${source}" is not one of auto, libcamera, v4l2:, rtsp://, file:, images:` };
}

function ffmpegFilters(c: CameraConfig, fps: boolean): string {
  const f = [`scale=${c.width}:${c.height}:force_original_aspect_ratio=decrease`];
  if (c.rotate === 90) f.push('transpose=1');
  else if (c.rotate === 180) f.push('transpose=1,transpose=1');
  else if (c.rotate === 270) f.push('transpose=2');
  if (fps) f.push(`fps=${c.fps}`);
  return f.join(',');
}

/** ffmpeg arguments that write MJPEG to stdout. */
export function ffmpegArgs(spec: SourceSpec, c: CameraConfig): string[] {
  const head = ['-hide_banner', '-loglevel', 'error', '-nostdin'];
  let input: string[];
  if (spec.kind === 'file') input = [...(c.loop ? ['-stream_loop', '-1'] : []), '-re', '-i', spec.path];
  else if (spec.kind === 'rtsp') input = ['-rtsp_transport', 'tcp', '-fflags', 'nobuffer', '-flags', 'low_delay', '-i', spec.url];
  else if (spec.kind === 'v4l2') input = ['-f', 'v4l2', '-video_size', `${c.width}x${c.height}`, '-framerate', String(c.fps), '-i', spec.device];
  else throw new Error(`ffmpeg does not handle ${spec.kind} sources`);
  return [...head, ...input, '-an', '-vf', ffmpegFilters(c, true), '-f', 'mjpeg', '-q:v', '4', 'pipe:1'];
}

/** rpicam-vid / libcamera-vid arguments: MJPEG to stdout, forever, no preview. */
export function libcameraArgs(c: CameraConfig): string[] {
  return [
    '-t',
    '0',
    '-n',
    '--codec',
    'mjpeg',
    '--width',
    String(c.width),
    '--height',
    String(c.height),
    '--framerate',
    String(c.fps),
    '--flush',
    ...(c.rotate === 180 ? ['--rotation', '180'] : []),
    '-o',
    '-',
  ];
}

/** Builds the source for a resolved spec. Throws with a clear message when a tool is missing. */
export function createSource(spec: SourceSpec, c: CameraConfig): FrameSource | null {
  switch (spec.kind) {
    case 'none':
      return null;
    case 'images':
      return new ImagesFrameSource(spec.dir, { fps: c.fps, loop: c.loop, width: c.width, height: c.height, rotate: c.rotate });
    case 'libcamera':
      if (c.rotate === 90 || c.rotate === 270)
        throw new Error(`camera.rotate ${c.rotate} is not supported by libcamera (only 0 or 180); mount the camera upright or use 180`);
      return new ProcessFrameSource(`libcamera (${spec.binary})`, spec.binary, libcameraArgs(c));
    case 'file':
    case 'rtsp':
    case 'v4l2': {
      const ffmpeg = findExecutable('ffmpeg');
      if (!ffmpeg) throw new Error(`camera.source ${spec.kind} needs ffmpeg (apt-get install -y ffmpeg)`);
      if (spec.kind === 'file' && !existsSync(spec.path)) throw new Error(`camera.source file: ${spec.path} does not exist`);
      const what = spec.kind === 'file' ? `file:${spec.path}` : spec.kind === 'rtsp' ? redactUrl(spec.url) : `v4l2:${spec.device}`;
      return new ProcessFrameSource(`${what} (ffmpeg)`, ffmpeg, ffmpegArgs(spec, c));
    }
  }
}
