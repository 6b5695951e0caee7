import type { AlarmRegistry } from '../alarms/alarmRegistry.js';
import type { CameraService } from '../camera/cameraService.js';
import type { Config } from '../config/schema.js';
import type { DoorService } from '../door/doorService.js';
import type { EventBus } from '../events.js';
import type { Logger } from '../logging.js';
import type { PeopleRegistry } from '../registry/peopleRegistry.js';
import { BaseService } from '../service.js';
import type { AuditRepo } from '../store/auditRepo.js';
import { AccessDecider } from './decider.js';
import { FrameLoop } from './frameLoop.js';
import type { FrameAnalyzer } from './ports.js';
import type { AccessRecorder } from './recorder.js';
import type { OperatingPoints } from './operatingPoint.js';

export interface AccessDeps {
  config: Config;
  bus: EventBus;
  camera: CameraService;
  analyzer: FrameAnalyzer;
  registry: PeopleRegistry;
  door: DoorService;
  alarms: AlarmRegistry;
  recorder: AccessRecorder;
  /** The threshold and margin for the running embedder and gallery size (owner: access/operatingPoint.ts). */
  operatingPoint: OperatingPoints;
  audit: AuditRepo;
  log: Logger;
}

/**
 * The door's reason to exist: frames from the camera go to the vision worker, faces to the
 * tracker and the decider (which asks the people registry who they are), decisions to the door
 * (relay first), the store and the bus. Also records request-to-exit presses as access events
 * and raises the tailgating alarm.
 */
/** How often decisions queued in memory (the database could not take them) are tried again. */
const RETRY_WRITES_MS = 2000;

export class AccessService extends BaseService {
  private loop: FrameLoop | null = null;
  private decider: AccessDecider | null = null;
  private decisions = { granted: 0, denied: 0, suppressed: 0 };
  private lastUnlockLatencyMs: number | null = null;

  constructor(private readonly d: AccessDeps) {
    super('access', d.bus);
  }

  protected onStart(): void {
    const { config, registry, door, recorder, log } = this.d;
    if (config.access.lockdown && door.state().mode !== 'lockdown') door.setMode('lockdown');
    this.decider = new AccessDecider(config, {
      matcher: { search: (e, k) => registry.search(e, k), people: () => registry.searchable() },
      thresholds: () => this.d.operatingPoint.thresholds(),
      person: (id) => registry.get(id),
      door: () => door.state(),
      unlock: (reason) => door.grant(reason).ok,
      // access.grantWhenUnrecorded: false = nobody is let in by face while decisions cannot be stored.
      canRecord: () => config.access.grantWhenUnrecorded || !recorder.failing,
      // The relay already acted (it never waits for the disk); a decision the database cannot take
      // waits in the recorder's memory queue (and the journal) until it can.
      record: (e, at) => void recorder.record(e, at),
      tailgating: (details) => this.raiseTailgating(details),
      now: () => Date.now(),
    });
    this.listen('door.exit_request', (r) => {
      // Egress never depends on recording: the door opened already; the press is recorded or queued.
      recorder.record({ result: 'GRANTED', reason: 'exit_request', source: 'exit_button', details: { mode: r.mode, opened: r.opened } }, new Date(r.ts));
    });
    this.every(RETRY_WRITES_MS, () => recorder.flush());
    this.listen('door.changed', (s) => {
      if (s.relay === 'off' && s.contact !== 'open') this.d.alarms.clear('tailgating', 'the door is closed and locked again');
    });
    this.loop = new FrameLoop(
      this.d.camera,
      this.d.analyzer,
      async (result, frame) => {
        // Live view and health read the newest analysed frame from the bus (references only, no copy).
        this.bus.emit('frame.analyzed', { frame, result });
        const outcomes = await this.decider!.onFrame(result);
        for (const o of outcomes) {
          if (o.result === 'GRANTED') {
            this.decisions.granted++;
            this.lastUnlockLatencyMs = o.latencyMs;
          } else if (o.result === 'DENIED') this.decisions.denied++;
          else this.decisions.suppressed++;
        }
      },
      log.child({ component: 'frameloop' }),
    );
    this.loop.start();
  }

  protected override onStop(): void {
    this.loop?.stop();
  }

  /** For the watchdog and health: the frame loop's counters. */
  frameLoop(): FrameLoop | null {
    return this.loop;
  }

  health(): Record<string, unknown> {
    return {
      frameLoop: this.loop?.snapshot() ?? null,
      activeTracks: this.decider?.activeTracks() ?? 0,
      decisions: this.decisions,
      lastUnlockLatencyMs: this.lastUnlockLatencyMs,
      operatingPoint: this.operatingPointHealth(),
      warnings: this.operatingPointWarnings(),
    };
  }

  /** The door's threshold and how it was chosen (security level, people, expected FAR per visit and FRR). */
  private operatingPointHealth(): Record<string, unknown> | null {
    try {
      const p = this.d.operatingPoint.current();
      return p ? { ...p } : null;
    } catch (err) {
      return { error: (err as Error).message };
    }
  }

  private operatingPointWarnings(): string[] {
    try {
      return this.d.operatingPoint.current()?.warnings ?? [];
    } catch (err) {
      return [`operating point: ${(err as Error).message}: nobody is recognised unless access.threshold is set`];
    }
  }

  private raiseTailgating(details: Record<string, unknown>): void {
    this.d.log.warn(details, 'tailgating: a second face entered while the door is unlocked');
    this.d.audit.record('system', 'alarm.tailgating', null, details);
    this.d.alarms.raise('tailgating', 'a second face entered while the door was unlocked after a grant', details);
  }
}
