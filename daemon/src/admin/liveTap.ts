import sharp from 'sharp';
import type { Frame } from '../camera/frame.js';
import type { EventBus } from '../events.js';
import type { PeopleRegistry } from '../registry/peopleRegistry.js';
import type { FrameResult } from '../vision/types.js';
import type { LiveFace, LiveFrame } from './faceServices.js';

/** A frame older than this is not "live" any more (camera stopped or vision stalled). */
const STALE_MS = 5000;

/**
 * The admin's live view: keeps the newest analysed frame from the bus, and on request (only
 * while someone watches, ~3 fps) encodes it as JPEG (rgb24 frames; JPEG frames are sent as
 * they are) and names its faces against the enrolled templates. Costs nothing when nobody looks.
 */
export class LiveTap {
  private latest: { frame: Frame; result: FrameResult; at: number } | null = null;
  private encoded: { seq: number; jpeg: Buffer } | null = null;

  constructor(
    private readonly bus: EventBus,
    private readonly registry: PeopleRegistry,
    private readonly threshold: () => { threshold: number; margin: number },
    private readonly now: () => number = Date.now,
    /** The camera's newest frame, analysed or not (the door runtime's camera.peek()). */
    private readonly peek: () => Frame | null = () => null,
  ) {}

  start(): void {
    this.bus.on(this, 'frame.analyzed', ({ frame, result }) => void (this.latest = { frame, result, at: this.now() }));
  }

  stop(): void {
    this.bus.removeListeners(this);
    this.latest = null;
  }

  /** Per-stage timings of the newest analysed frame (ms), or null. */
  timings(): FrameResult['timings'] | null {
    return this.active() ? this.latest!.result.timings : null;
  }

  /** True when frames arrived recently. */
  active(): boolean {
    return this.latest !== null && this.now() - this.latest.at < STALE_MS;
  }

  /**
   * The newest analysed frame with its labelled faces; when none arrived recently, the camera's
   * newest frame without faces (analysed: false), so the picture shows even without analysis.
   */
  async frame(): Promise<LiveFrame | null> {
    const l = this.latest;
    if (l && this.active()) {
      const { frame, result } = l;
      return {
        seq: frame.seq,
        capturedAt: frame.capturedAt,
        width: result.width,
        height: result.height,
        jpeg: await this.jpeg(frame),
        faces: await Promise.all(result.faces.map((f) => this.label(f))),
        analysed: true,
      };
    }
    const raw = this.peek();
    if (!raw || this.now() - raw.capturedAt > STALE_MS) return null;
    return { seq: raw.seq, capturedAt: raw.capturedAt, width: raw.width, height: raw.height, jpeg: await this.jpeg(raw), faces: [], analysed: false };
  }

  /** The newest camera frame as JPEG, unanalysed (for the admin's own on-demand analysis). */
  async rawFrame(): Promise<{ frame: Frame; jpeg: Buffer } | null> {
    const raw = this.peek();
    if (!raw || this.now() - raw.capturedAt > STALE_MS) return null;
    return { frame: raw, jpeg: await this.jpeg(raw) };
  }

  private async jpeg(frame: Frame): Promise<Buffer> {
    if (frame.format === 'jpeg') return frame.data;
    if (this.encoded?.seq !== frame.seq) {
      this.encoded = {
        seq: frame.seq,
        jpeg: await sharp(frame.data, { raw: { width: frame.width, height: frame.height, channels: 3 } })
          .jpeg({ quality: 70 })
          .toBuffer(),
      };
    }
    return this.encoded.jpeg;
  }

  private async label(f: FrameResult['faces'][number]): Promise<LiveFace> {
    const quality = { faceSizePx: f.quality.faceSizePx, sharpness: f.quality.sharpness, poseScore: f.quality.poseScore, problems: f.quality.problems };
    let name: string | null = null;
    let status: LiveFace['status'] = null;
    let score: number | null = null;
    if (f.embedding) {
      const { threshold, margin } = this.threshold();
      const m = await this.registry.match(f.embedding, threshold, margin);
      if (m.person) score = m.score;
      if (m.decision === 'match' && m.person) {
        name = m.person.name;
        status = m.person.status;
      }
    }
    return { box: f.box, name, status, score, quality };
  }
}
