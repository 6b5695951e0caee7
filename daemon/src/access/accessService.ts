import type { CameraService } from '../camera/cameraService.js';
import type { ServiceContext } from '../controller.js';
import type { ServiceStatus } from '../events.js';
import type { Service } from '../service.js';
import { AccessDecider } from './decider.js';
import { FrameLoop } from './frameLoop.js';
import type { FaceMatcher, FrameAnalyzer } from './ports.js';
import { AccessRecorder } from './recorder.js';

/**
 * The door's reason to exist: frames from the camera go to the vision worker, faces to the
 * tracker and the decider, decisions to the door (relay first), the store and the bus.
 * Also records request-to-exit presses as access events and raises the tailgating alarm.
 */
export class AccessService implements Service {
  readonly name = 'access';
  private state: ServiceStatus = 'stopped';
  private loop: FrameLoop | null = null;
  private decider: AccessDecider | null = null;
  private recorder: AccessRecorder | null = null;
  private readonly unsubscribe: Array<() => void> = [];
  private tailgatingActive = false;
  private decisions = { granted: 0, denied: 0, suppressed: 0 };
  private lastUnlockLatencyMs: number | null = null;

  constructor(
    private readonly ctx: ServiceContext,
    private readonly camera: CameraService,
    private readonly analyzer: FrameAnalyzer,
    /** Built at start (the embedder id is known only once vision runs). */
    private readonly matcherFactory: () => Promise<FaceMatcher>,
  ) {}

  async start(): Promise<void> {
    this.state = 'starting';
    const { ctx } = this;
    const recorder = new AccessRecorder(ctx.store, ctx.bus, ctx.config, ctx.log.child({ component: 'access' }));
    this.recorder = recorder;
    if (ctx.config.access.lockdown && ctx.door.state().mode !== 'lockdown') ctx.door.setMode('lockdown');
    const matcher = await this.matcherFactory();
    // `blinkd enroll` / `people remove` run as separate processes: "reload people" (MQTT, admin)
    // makes the running unit re-read the templates from the database.
    ctx.commands.register('reload_people', () => {
      ctx.bus.emit('people.changed', { personId: null, action: 'reload' });
      return { ok: true, detail: { people: ctx.store.people.count('ACTIVE'), templates: ctx.store.templates.count() } };
    });
    this.decider = new AccessDecider(ctx.config, {
      matcher,
      person: (id) => ctx.store.people.get(id),
      door: () => ctx.door.state(),
      unlock: (reason) => ctx.door.grant(reason).ok,
      record: (e, at) => {
        try {
          recorder.record(e, at);
        } catch (err) {
          // The relay already acted (it never waits for the disk); the decision must not vanish:
          // the full event goes to the journal, and the frame loop carries on.
          ctx.log.error({ err, decision: { ...e, ts: at.toISOString() } }, 'access event NOT stored in the database');
        }
      },
      tailgating: (details) => this.raiseTailgating(details),
      now: () => Date.now(),
    });
    this.unsubscribe.push(
      ctx.door.onExitRequest((r) => {
        const e = { result: 'GRANTED' as const, reason: 'exit_request', source: 'exit_button' as const, details: { mode: r.mode, opened: r.opened } };
        try {
          recorder.record(e, new Date(r.ts));
        } catch (err) {
          ctx.log.error({ err, decision: { ...e, ts: r.ts } }, 'access event NOT stored in the database');
        }
      }),
      ctx.bus.on('door.changed', (d) => {
        if (this.tailgatingActive && d.relay === 'off' && d.contact !== 'open') {
          this.tailgatingActive = false;
          ctx.bus.emit('alarm', { type: 'tailgating', active: false, ts: new Date().toISOString() });
        }
      }),
    );
    this.loop = new FrameLoop(
      this.camera,
      this.analyzer,
      async (result, frame) => {
        // Live view and health read the newest analysed frame from the bus (references only, no copy).
        this.ctx.bus.emit('frame.analyzed', { frame, result });
        const outcomes = await this.decider!.onFrame(result);
        for (const o of outcomes) {
          if (o.result === 'GRANTED') {
            this.decisions.granted++;
            this.lastUnlockLatencyMs = o.latencyMs;
          } else if (o.result === 'DENIED') this.decisions.denied++;
          else this.decisions.suppressed++;
        }
      },
      ctx.log.child({ component: 'frameloop' }),
    );
    this.loop.start();
    this.state = 'running';
  }

  /** For the watchdog and health: the frame loop's counters. */
  frameLoop(): FrameLoop | null {
    return this.loop;
  }

  async stop(): Promise<void> {
    this.state = 'stopping';
    this.loop?.stop();
    for (const u of this.unsubscribe.splice(0)) u();
    this.state = 'stopped';
  }

  status(): ServiceStatus {
    return this.state;
  }

  health(): Record<string, unknown> {
    return {
      frameLoop: this.loop?.snapshot() ?? null,
      activeTracks: this.decider?.activeTracks() ?? 0,
      decisions: this.decisions,
      lastUnlockLatencyMs: this.lastUnlockLatencyMs,
      tailgating: this.tailgatingActive,
    };
  }

  private raiseTailgating(details: Record<string, unknown>): void {
    this.ctx.log.warn(details, 'tailgating: a second face entered while the door is unlocked');
    this.ctx.store.audit.record('system', 'alarm.tailgating', null, details);
    if (this.tailgatingActive) return;
    this.tailgatingActive = true;
    this.ctx.bus.emit('alarm', { type: 'tailgating', active: true, ts: new Date().toISOString(), details });
  }
}
