import type { AlarmRegistry } from '../alarms/alarmRegistry.js';
import type { Config } from '../config/schema.js';
import type { EventBus, ServiceStatus } from '../events.js';
import type { Logger } from '../logging.js';
import { BaseService } from '../service.js';
import type { Frame } from './frame.js';
import type { FrameSource } from './frameSource.js';
import { jpegSize } from './jpeg.js';
import { createSource, resolveSource } from './selectSource.js';
import { backoffDelay } from '../util/backoff.js';
import { redactUrls } from '../util/redactUrl.js';

export type CameraState = 'none' | 'starting' | 'up' | 'down' | 'finished' | 'stopped';

export interface CameraHealth {
  source: string;
  state: CameraState;
  detail: string | null;
  fps: number;
  frames: number;
  /** Frames replaced by a newer one before anyone took them (newest wins). */
  dropped: number;
  restarts: number;
  lastFrameAgeMs: number | null;
  width: number | null;
  height: number | null;
}

const FPS_WINDOW_MS = 2000;

/**
 * The camera: one source (chosen by camera.source, auto-detected), the newest frame only,
 * restarts with backoff when the source dies or freezes, and measurements (fps, drops).
 *
 * Consumers call onFrame() to be told a frame arrived and take() to get the newest one;
 * a frame that is replaced before it is taken is counted as dropped, never queued.
 * Reports: bus 'camera.status' up/down, the camera_lost alarm (AlarmRegistry) while down.
 */
export class CameraService extends BaseService {
  private source: FrameSource | null = null;
  private camState: CameraState = 'stopped';
  private detail: string | null = null;
  private description = 'none';
  private newest: Frame | null = null;
  private newestTaken = true;
  private seq = 0;
  private frames = 0;
  private dropped = 0;
  private restarts = 0;
  private attempts = 0;
  private lastFrameAt: number | null = null;
  private readonly recent: number[] = [];
  private readonly listeners = new Set<(f: Frame) => void>();
  private restartTimer: NodeJS.Timeout | null = null;
  private freezeTimer: NodeJS.Timeout | null = null;
  private stopped = true;
  private generation = 0;
  private firstFrameWaiters: Array<(ok: boolean) => void> = [];

  constructor(
    private readonly config: Config['camera'],
    bus: EventBus,
    private readonly alarms: AlarmRegistry,
    private readonly log: Logger,
    private readonly sourceFactory: () => FrameSource | null | { none: string } = () => {
      const spec = resolveSource(config.source);
      return spec.kind === 'none' ? { none: spec.reason } : createSource(spec, config);
    },
  ) {
    super('camera', bus);
  }

  protected async onStart(): Promise<void> {
    this.stopped = false;
    let made: FrameSource | null | { none: string };
    try {
      made = this.sourceFactory();
    } catch (err) {
      // A misconfigured source (missing ffmpeg, missing file) is reported, never a crash: the door still works.
      this.setDown((err as Error).message, false);
      this.resolveWaiters(false);
      return;
    }
    if (!made || 'none' in made) {
      this.camState = 'none';
      this.detail = made && 'none' in made ? made.none : 'no camera';
      this.log.warn({ detail: this.detail }, 'no camera: the unit runs without one');
      this.bus.emit('camera.status', { source: 'none', status: 'down', detail: this.detail });
      this.resolveWaiters();
      return;
    }
    this.source = made;
    this.description = made.description;
    this.freezeTimer = setInterval(() => this.checkFrozen(), Math.min(500, this.config.frozenAfterMs / 2));
    this.freezeTimer.unref();
    await this.launch();
  }

  /** Newest frame not yet taken (and marks it taken), or null. */
  take(): Frame | null {
    if (this.newestTaken || !this.newest) return null;
    this.newestTaken = true;
    return this.newest;
  }

  /** Newest frame, taken or not (for the admin's live view). */
  peek(): Frame | null {
    return this.newest;
  }

  onFrame(listener: (f: Frame) => void): () => void {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }

  /** true at the first frame or when the unit has no camera; false after timeoutMs or on stop. */
  waitUntilReady(timeoutMs: number): Promise<boolean> {
    if (this.camState === 'up' || this.camState === 'none') return Promise.resolve(true);
    return new Promise((resolve) => {
      const t = setTimeout(() => resolve(false), timeoutMs);
      this.firstFrameWaiters.push((ok) => (clearTimeout(t), resolve(ok)));
    });
  }

  cameraState(): CameraState {
    return this.camState;
  }

  /** ms since the last frame, or null before the first. */
  lastFrameAgeMs(): number | null {
    return this.lastFrameAt === null ? null : Date.now() - this.lastFrameAt;
  }

  fps(): number {
    const now = performance.now();
    while (this.recent.length && now - this.recent[0]! > FPS_WINDOW_MS) this.recent.shift();
    if (this.recent.length < 2) return 0;
    return Math.round((((this.recent.length - 1) * 1000) / (this.recent[this.recent.length - 1]! - this.recent[0]!)) * 10) / 10;
  }

  protected override async onStop(): Promise<void> {
    this.stopped = true;
    this.generation++;
    if (this.restartTimer) clearTimeout(this.restartTimer);
    if (this.freezeTimer) clearInterval(this.freezeTimer);
    this.restartTimer = null;
    this.freezeTimer = null;
    await this.source?.stop().catch(() => {});
    this.camState = 'stopped';
    this.resolveWaiters(false);
  }

  override status(): ServiceStatus {
    if (this.stopped) return this.lifecycle === 'stopping' ? 'stopping' : 'stopped';
    if (this.camState === 'up') return 'running';
    if (this.camState === 'starting') return 'starting';
    return 'degraded';
  }

  health(): Record<string, unknown> {
    return { ...this.snapshot() };
  }

  snapshot(): CameraHealth {
    return {
      source: this.description,
      state: this.camState,
      detail: this.camState === 'none' && !this.detail ? 'no camera' : this.detail,
      fps: this.fps(),
      frames: this.frames,
      dropped: this.dropped,
      restarts: this.restarts,
      lastFrameAgeMs: this.lastFrameAgeMs(),
      width: this.newest?.width ?? null,
      height: this.newest?.height ?? null,
    };
  }

  private async launch(): Promise<void> {
    const source = this.source;
    if (!source || this.stopped) return;
    const gen = ++this.generation;
    this.camState = 'starting';
    this.lastFrameAt = null;
    try {
      await source.start({
        frame: (jpeg, capturedAt) => {
          if (gen === this.generation) this.onJpeg(jpeg, capturedAt);
        },
        ended: (reason, kind) => {
          if (gen !== this.generation || this.stopped) return;
          if (kind === 'finished' && !this.config.loop) {
            this.camState = 'finished';
            this.detail = redactUrls(reason);
            this.log.info({ source: this.description, reason: this.detail }, 'camera source finished');
            this.bus.emit('camera.status', { source: this.description, status: 'down', detail: this.detail });
            return;
          }
          this.setDown(reason, true);
        },
      });
      this.log.info({ source: this.description }, 'camera source started');
    } catch (err) {
      this.setDown((err as Error).message, true);
    }
  }

  private onJpeg(jpeg: Buffer, capturedAt: number): void {
    const size = jpegSize(jpeg);
    if (!size) return; // garbage between frames: not a frame
    if (!this.newestTaken) this.dropped++;
    const frame: Frame = { seq: ++this.seq, capturedAt, width: size.width, height: size.height, format: 'jpeg', data: jpeg };
    this.newest = frame;
    this.newestTaken = false;
    this.frames++;
    this.lastFrameAt = Date.now();
    this.recent.push(performance.now());
    if (this.recent.length > 600) this.recent.shift();
    if (this.camState !== 'up') {
      this.camState = 'up';
      this.detail = null;
      this.attempts = 0;
      this.log.info({ source: this.description, width: size.width, height: size.height }, 'camera up');
      this.bus.emit('camera.status', { source: this.description, status: 'up' });
      this.alarms.clear('camera_lost', `frames arrive again from ${this.description}`);
      this.resolveWaiters();
    }
    for (const l of this.listeners) {
      try {
        l(frame);
      } catch (err) {
        this.log.error({ err }, 'frame listener failed');
      }
    }
  }

  private checkFrozen(): void {
    if (this.camState !== 'up' || this.lastFrameAt === null) return;
    const age = Date.now() - this.lastFrameAt;
    if (age > this.config.frozenAfterMs) this.setDown(`no frame for ${age} ms (frozen)`, true);
  }

  private setDown(why: string, restart: boolean): void {
    // Sources explain failures in their own words (ffmpeg names its input): never a credential.
    const reason = redactUrls(why);
    this.camState = 'down';
    this.detail = reason;
    this.log.warn({ source: this.description, reason }, 'camera down');
    this.bus.emit('camera.status', { source: this.description, status: 'down', detail: reason });
    this.alarms.raise('camera_lost', reason, { source: this.description });
    if (!restart || this.stopped || !this.source) return;
    this.generation++; // ignore anything the dying source still sends
    const delay = backoffDelay(this.attempts, this.config.restartBackoffMinMs, this.config.restartBackoffMaxMs);
    this.attempts++;
    if (this.restartTimer) clearTimeout(this.restartTimer);
    const source = this.source;
    this.restartTimer = setTimeout(() => {
      this.restartTimer = null;
      void source
        .stop()
        .catch(() => {})
        .then(() => {
          if (this.stopped) return;
          this.restarts++;
          this.log.info({ source: this.description, attempt: this.attempts, afterMs: delay }, 'restarting camera source');
          return this.launch();
        });
    }, delay);
  }

  private resolveWaiters(ok = true): void {
    for (const w of this.firstFrameWaiters.splice(0)) w(ok);
  }
}
