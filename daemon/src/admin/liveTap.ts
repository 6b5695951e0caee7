import sharp from 'sharp';
import type { Frame } from '../camera/frame.js';
import type { EventBus } from '../events.js';
import { Gallery } from '../gallery/gallery.js';
import type { Store } from '../store/store.js';
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
  private gallery: { gallery: Gallery; names: Map<string, string> } | null = null;
  private readonly off: Array<() => void> = [];

  constructor(
    private readonly bus: EventBus,
    private readonly store: Store,
    private readonly threshold: () => { threshold: number; margin: number },
    private readonly now: () => number = Date.now,
    /** The camera's newest frame, analysed or not (the door runtime's camera.peek()). */
    private readonly peek: () => Frame | null = () => null,
  ) {}

  start(): void {
    this.off.push(
      this.bus.on('frame.analyzed', ({ frame, result }) => void (this.latest = { frame, result, at: this.now() })),
      this.bus.on('people.changed', () => void (this.gallery = null)),
    );
  }

  stop(): void {
    for (const f of this.off.splice(0)) f();
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
        faces: result.faces.map((f) => this.label(f)),
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

  private label(f: FrameResult['faces'][number]): LiveFace {
    const quality = { faceSizePx: f.quality.faceSizePx, sharpness: f.quality.sharpness, poseScore: f.quality.poseScore, problems: f.quality.problems };
    let name: string | null = null;
    let score: number | null = null;
    if (f.embedding) {
      const g = this.galleryFor(f.embedding.length);
      if (g && g.gallery.size > 0) {
        const { threshold, margin } = this.threshold();
        const m = g.gallery.match(f.embedding, threshold, margin);
        score = m.score;
        if (m.decision === 'match' && m.personId) name = g.names.get(m.personId) ?? null;
      }
    }
    return { box: f.box, name, score, quality };
  }

  /** Templates of active people of the model with this dimension that has the most templates. */
  private galleryFor(dim: number): { gallery: Gallery; names: Map<string, string> } | null {
    if (this.gallery && this.gallery.gallery.dim === dim) return this.gallery;
    const model = this.store.db.prepare('SELECT model_id FROM face_templates WHERE dim = ? GROUP BY model_id ORDER BY count(*) DESC LIMIT 1').get(dim) as
      { model_id: string } | undefined;
    if (!model) return null;
    const templates = this.store.templates.activeForModel(model.model_id);
    const gallery = new Gallery(dim);
    gallery.load(templates.map((t) => ({ personId: t.personId, embedding: t.embedding })));
    const names = new Map(this.store.people.list({ status: 'ACTIVE', limit: 1_000_000 }).map((p) => [p.id, p.name]));
    this.gallery = { gallery, names };
    return this.gallery;
  }
}
