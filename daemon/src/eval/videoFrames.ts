import { spawn } from 'node:child_process';
import type { RgbImage } from '../vision/align.js';

/** Probe a video's size and frame rate with ffprobe. */
async function probe(path: string): Promise<{ width: number; height: number; fps: number }> {
  const out = await new Promise<string>((resolve, reject) => {
    const p = spawn('ffprobe', ['-v', 'error', '-select_streams', 'v:0', '-show_entries', 'stream=width,height,r_frame_rate', '-of', 'csv=p=0', path]);
    let s = '';
    let e = '';
    p.stdout.on('data', (d: Buffer) => (s += d.toString()));
    p.stderr.on('data', (d: Buffer) => (e += d.toString()));
    p.on('error', (err) => reject(new Error(`ffprobe not available (apt-get install -y ffmpeg): ${err.message}`)));
    p.on('close', (code) => (code === 0 ? resolve(s) : reject(new Error(`ffprobe ${path}: ${e.trim()}`))));
  });
  const [w, h, rate] = out.trim().split(/\r?\n/)[0]!.split(',');
  const [num, den] = (rate ?? '0/1').split('/').map(Number);
  return { width: Number(w), height: Number(h), fps: den ? num! / den : num! };
}

/** Decodes every frame of a video (any format ffmpeg reads) to RGB, with its timestamp in ms. */
export async function* videoFrames(path: string): AsyncGenerator<{ index: number; tsMs: number; image: RgbImage }> {
  const { width, height, fps } = await probe(path);
  const size = width * height * 3;
  const p = spawn('ffmpeg', ['-v', 'error', '-i', path, '-f', 'rawvideo', '-pix_fmt', 'rgb24', '-vsync', 'passthrough', 'pipe:1'], {
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let pending: Buffer = Buffer.alloc(0);
  let index = 0;
  try {
    for await (const chunk of p.stdout as AsyncIterable<Buffer>) {
      pending = pending.length ? Buffer.concat([pending, chunk]) : chunk;
      while (pending.length >= size) {
        const frame = new Uint8Array(pending.subarray(0, size));
        pending = pending.subarray(size);
        yield { index, tsMs: (index * 1000) / (fps || 25), image: { width, height, data: frame } };
        index++;
      }
    }
  } finally {
    p.kill();
  }
}
