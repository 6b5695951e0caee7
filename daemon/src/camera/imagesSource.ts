import { readdirSync, readFileSync, statSync } from 'node:fs';
import { join } from 'node:path';
import sharp from 'sharp';
import type { FrameSink, FrameSource } from './frameSource.js';

const IMAGE_EXT = /\.(jpe?g|png|webp|bmp|gif|tiff?)$/i;

export interface ImagesOptions {
  fps: number;
  loop: boolean;
  /** Images are scaled down to fit inside this box (like a camera at this resolution). */
  width: number;
  height: number;
  rotate: 0 | 90 | 180 | 270;
}

/**
 * `images:DIR`: the folder's images in name order, played at a set rate (looping or once).
 * Each image is converted once at start to a JPEG that fits the configured size, so the
 * running source costs nothing but a timer.
 */
export class ImagesFrameSource implements FrameSource {
  readonly description: string;
  private timer: NodeJS.Timeout | null = null;
  private frames: Buffer[] = [];

  constructor(
    private readonly dir: string,
    private readonly o: ImagesOptions,
  ) {
    this.description = `images:${dir}`;
  }

  async start(sink: FrameSink): Promise<void> {
    let names: string[];
    try {
      if (!statSync(this.dir).isDirectory()) throw new Error('not a directory');
      names = readdirSync(this.dir)
        .filter((n) => IMAGE_EXT.test(n))
        .sort();
    } catch (err) {
      throw new Error(`images source ${this.dir}: ${(err as NodeJS.ErrnoException).code ?? (err as Error).message}`);
    }
    if (names.length === 0) throw new Error(`images source ${this.dir}: no image files (.jpg, .png, .webp, …)`);
    this.frames = [];
    for (const name of names) {
      try {
        const input = readFileSync(join(this.dir, name));
        const jpeg = await sharp(input)
          .rotate(this.o.rotate)
          .resize(this.o.width, this.o.height, { fit: 'inside', withoutEnlargement: true })
          .jpeg({ quality: 90 })
          .toBuffer();
        this.frames.push(jpeg);
      } catch (err) {
        throw new Error(`images source: ${name} is not a readable image (${(err as Error).message})`);
      }
    }
    let i = 0;
    const period = 1000 / this.o.fps;
    const t0 = performance.now();
    let n = 0;
    const tick = () => {
      if (i >= this.frames.length) {
        if (!this.o.loop) {
          this.timer = null;
          sink.ended('end of the image sequence', 'finished');
          return;
        }
        i = 0;
      }
      sink.frame(this.frames[i++]!, Date.now());
      n++;
      // schedule against the start time so the rate does not drift
      this.timer = setTimeout(tick, Math.max(0, t0 + n * period - performance.now()));
    };
    this.timer = setTimeout(tick, 0);
  }

  async stop(): Promise<void> {
    if (this.timer) clearTimeout(this.timer);
    this.timer = null;
  }
}
