/**
 * MJPEG stream splitting: a JPEG starts with SOI (FF D8) and ends with EOI (FF D9). Inside
 * the entropy-coded data a 0xFF byte is always followed by 00 (stuffing) or a restart
 * marker, so the first EOI after an SOI ends the image (MJPEG from ffmpeg/rpicam-vid carries
 * no embedded thumbnails).
 */
export class MjpegSplitter {
  private buf: Buffer = Buffer.alloc(0);
  /** Where the current image's SOI is in buf, or -1 while looking for one. */
  private start = -1;
  /** Where to resume scanning for EOI. */
  private scan = 0;

  constructor(
    private readonly onImage: (jpeg: Buffer) => void,
    /** A frame larger than this is garbage (a broken stream): it is dropped and the splitter resyncs. */
    private readonly maxBytes = 16 * 1024 * 1024,
  ) {}

  push(chunk: Buffer): void {
    this.buf = this.buf.length ? Buffer.concat([this.buf, chunk]) : chunk;
    for (;;) {
      if (this.start < 0) {
        const soi = findMarker(this.buf, 0xd8, 0);
        if (soi < 0) {
          // keep a trailing 0xFF: it may be the first half of an SOI
          this.buf = this.buf.length && this.buf[this.buf.length - 1] === 0xff ? this.buf.subarray(this.buf.length - 1) : Buffer.alloc(0);
          return;
        }
        this.start = soi;
        this.scan = soi + 2;
      }
      const eoi = findMarker(this.buf, 0xd9, this.scan);
      if (eoi < 0) {
        this.scan = Math.max(this.start + 2, this.buf.length - 1);
        if (this.buf.length - this.start > this.maxBytes) this.reset();
        else if (this.start > 0) {
          this.buf = this.buf.subarray(this.start);
          this.scan -= this.start;
          this.start = 0;
        }
        return;
      }
      // copy: the source buffer is reused by the stream
      this.onImage(Buffer.from(this.buf.subarray(this.start, eoi + 2)));
      this.buf = this.buf.subarray(eoi + 2);
      this.start = -1;
      this.scan = 0;
    }
  }

  reset(): void {
    this.buf = Buffer.alloc(0);
    this.start = -1;
    this.scan = 0;
  }
}

function findMarker(buf: Buffer, code: number, from: number): number {
  let i = from;
  for (;;) {
    i = buf.indexOf(0xff, i);
    if (i < 0 || i + 1 >= buf.length) return -1;
    if (buf[i + 1] === code) return i;
    i += 1;
  }
}

/** Width and height from a JPEG's SOF header, or null if the data is not a readable JPEG. */
export function jpegSize(jpeg: Buffer): { width: number; height: number } | null {
  if (jpeg.length < 4 || jpeg[0] !== 0xff || jpeg[1] !== 0xd8) return null;
  let i = 2;
  while (i + 9 < jpeg.length) {
    if (jpeg[i] !== 0xff) return null;
    const marker = jpeg[i + 1]!;
    if (marker === 0xff) {
      i += 1;
      continue;
    }
    const len = jpeg.readUInt16BE(i + 2);
    // SOF0..SOF15 except DHT (C4), JPG (C8), DAC (CC)
    if (marker >= 0xc0 && marker <= 0xcf && marker !== 0xc4 && marker !== 0xc8 && marker !== 0xcc) {
      return { height: jpeg.readUInt16BE(i + 5), width: jpeg.readUInt16BE(i + 7) };
    }
    if (marker === 0xda) return null; // start of scan before any SOF
    i += 2 + len;
  }
  return null;
}
