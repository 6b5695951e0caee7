import { monitorEventLoopDelay, type IntervalHistogram } from 'node:perf_hooks';
import type { AlarmRegistry } from '../alarms/alarmRegistry.js';
import type { EventBus } from '../events.js';
import type { Logger } from '../logging.js';
import { BaseService } from '../service.js';
import { SdNotifier, watchdogIntervalMs } from './sdNotify.js';

export interface HealthProbe {
  ok: boolean;
  reason?: string;
  /** What failed: no frames from the camera, or no results from the vision worker. */
  cause?: 'camera' | 'vision';
}

/** How the watchdog talks to systemd (SdNotifier; a recorder in tests). */
export interface Notifier {
  readonly enabled: boolean;
  notify(fields: Record<string, string | number>): Promise<boolean>;
  notifySync(fields: Record<string, string | number>): boolean;
}

export interface WatchdogProbes {
  /** Resolves when the unit is ready to serve (store open, models loaded, HTTP serving, camera delivering or absent). */
  ready(): Promise<void>;
  /** Is the frame loop healthy (camera frames arriving, vision worker answering)? */
  frameLoop(): HealthProbe;
  /** One short line for `systemctl status`. */
  statusLine(): string;
}

/** A frame in the vision worker for longer than this means the worker is stuck. */
export const VISION_STUCK_MS = 15_000;

export interface FrameLoopFacts {
  /** none | finished | stopped: no camera to watch (the unit runs without one). */
  cameraState: string;
  cameraDetail: string | null;
  lastFrameAgeMs: number | null;
  frozenAfterMs: number;
  /** null when there is no frame loop (no access service). */
  loop: { inFlightMs: number | null; lastResultAgeMs: number | null } | null;
}

/**
 * Is the frame loop healthy? A camera that delivers no frame for frozenAfterMs (cause: camera), a
 * frame stuck in the vision worker, or no vision result for VISION_STUCK_MS (cause: vision) is a
 * problem (the pings stop).
 */
export function frameLoopHealth(f: FrameLoopFacts): HealthProbe {
  if (f.cameraState === 'none' || f.cameraState === 'finished' || f.cameraState === 'stopped') return { ok: true };
  const age = f.lastFrameAgeMs;
  if (age === null || age > f.frozenAfterMs) {
    return { ok: false, cause: 'camera', reason: `camera: no frame for ${age === null ? 'ever' : `${age} ms`} (${f.cameraDetail ?? f.cameraState})` };
  }
  const loop = f.loop;
  if (!loop) return { ok: true };
  if (loop.inFlightMs !== null && loop.inFlightMs > VISION_STUCK_MS)
    return { ok: false, cause: 'vision', reason: `vision worker stuck on one frame for ${loop.inFlightMs} ms` };
  if (loop.lastResultAgeMs !== null && loop.lastResultAgeMs > VISION_STUCK_MS)
    return { ok: false, cause: 'vision', reason: `no vision result for ${loop.lastResultAgeMs} ms` };
  return { ok: true };
}

/**
 * An event loop blocked longer than this during the last round stops the pings. Measured two
 * ways, whichever is larger: the longest delay the event-loop histogram saw, and how late this
 * round's own timer fired (the histogram's timer may run after ours in the phase that follows
 * the block, so alone it can report the block one round late, or, reset by an extra round, never).
 */
export const EVENT_LOOP_MAX_LAG_MS = 1000;

/**
 * Talks to systemd: READY=1 once the probes say the unit is ready, WATCHDOG=1 every
 * WatchdogSec/2 only while the event loop and the frame loop are healthy (so a frozen camera
 * or a stuck vision worker makes systemd restart blinkd), STATUS= with fps and people
 * enrolled, STOPPING=1 when shutting down. Without NOTIFY_SOCKET it only logs health changes.
 * A stuck vision worker also raises the vision_stalled alarm (cleared when results flow again).
 */
export class WatchdogService extends BaseService {
  private histogram: IntervalHistogram | null = null;
  private ready = false;
  private lastProblem: string | null = null;
  private lastStatus = '';
  private pings = 0;
  private lastRoundAt = 0;
  private readonly notifier: Notifier;
  private readonly intervalMs: number | null;

  constructor(
    private readonly probes: WatchdogProbes,
    bus: EventBus,
    private readonly alarms: AlarmRegistry,
    private readonly log: Logger,
    env: NodeJS.ProcessEnv = process.env,
    notifier?: Notifier,
  ) {
    super('systemd', bus);
    this.notifier = notifier ?? new SdNotifier(env, (m) => log.warn(m));
    this.intervalMs = watchdogIntervalMs(env);
  }

  protected onStart(): void {
    this.lifecycle = 'running';
    this.histogram = monitorEventLoopDelay({ resolution: 20 });
    this.histogram.enable();
    // Not awaited: the probes may wait for the camera's first frame (and HTTP serving).
    void this.announceReady();
    const every = this.intervalMs ?? 5000;
    this.lastRoundAt = performance.now();
    this.every(every, () => {
      const now = performance.now();
      const lateMs = now - this.lastRoundAt - every;
      this.lastRoundAt = now;
      void this.tick(lateMs);
    });
    this.log.info({ notify: this.notifier.enabled, watchdogIntervalMs: this.intervalMs }, 'systemd integration');
  }

  private async announceReady(): Promise<void> {
    await this.probes.ready();
    if (this.lifecycle !== 'running') return;
    this.ready = true;
    const status = this.probes.statusLine();
    this.lastStatus = status;
    await this.notifier.notify({ READY: 1, STATUS: status });
    this.log.info({ status }, 'ready');
    void this.tick();
  }

  /** One watchdog round: ping if healthy, update STATUS when it changed, raise or clear vision_stalled. */
  async tick(timerLateMs = 0): Promise<void> {
    if (!this.ready || this.lifecycle !== 'running') return;
    const problem = this.problem(timerLateMs);
    if (problem !== this.lastProblem) {
      if (problem) this.log.error({ problem }, 'watchdog: unhealthy, not pinging systemd');
      else if (this.lastProblem) this.log.info('watchdog: healthy again');
      this.lastProblem = problem;
    }
    const fields: Record<string, string | number> = {};
    if (!problem && this.intervalMs !== null) fields.WATCHDOG = 1;
    const status = problem ? `unhealthy: ${problem}` : this.probes.statusLine();
    if (status !== this.lastStatus) fields.STATUS = status;
    this.lastStatus = status;
    if (Object.keys(fields).length === 0) return;
    if (await this.notifier.notify(fields)) if (fields.WATCHDOG) this.pings++;
  }

  private problem(timerLateMs: number): string | null {
    const h = this.histogram;
    const histogramMs = h && h.count > 0 ? h.max / 1e6 : 0;
    h?.reset();
    const lagMs = Math.max(histogramMs, timerLateMs);
    const f = this.probes.frameLoop();
    if (f.cause === 'vision') this.alarms.raise('vision_stalled', f.reason ?? 'no vision results');
    else if (f.ok) this.alarms.clear('vision_stalled', 'vision results arrive again');
    if (lagMs > EVENT_LOOP_MAX_LAG_MS) return `event loop blocked (${Math.round(lagMs)} ms)`;
    return f.ok ? null : (f.reason ?? 'frame loop unhealthy');
  }

  protected override onStop(): void {
    this.histogram?.disable();
    this.notifier.notifySync({ STOPPING: 1, STATUS: 'stopping' });
  }

  health(): Record<string, unknown> {
    return { notify: this.notifier.enabled, watchdogIntervalMs: this.intervalMs, ready: this.ready, pings: this.pings, problem: this.lastProblem };
  }
}
