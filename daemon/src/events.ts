import { EventEmitter } from 'node:events';
import type { AccessEvent } from './store/eventsRepo.js';
import type { AttendanceRecord } from './store/attendanceRepo.js';
import type { Frame } from './camera/frame.js';
import type { FrameResult } from './vision/types.js';

/** What travels between services. Each service subscribes to what it needs; none calls another's internals. */
export type DoorMode = 'normal' | 'lockdown' | 'held_unlocked';
export type AlarmType = 'held_open' | 'forced_open' | 'camera_lost' | 'tailgating' | 'vision_stalled';

export interface DoorState {
  relay: 'on' | 'off';
  /** null when no contact sensor is wired. */
  contact: 'open' | 'closed' | null;
  mode: DoorMode;
  /** Why the relay is on: a grant, an exit request, a command, or held-unlocked mode. */
  unlockReason: string | null;
  changedAt: string;
}

export interface AlarmEvent {
  type: AlarmType;
  active: boolean;
  ts: string;
  details?: Record<string, unknown>;
}

export type ServiceStatus = 'stopped' | 'starting' | 'running' | 'degraded' | 'stopping' | 'failed' | 'disabled';

export interface BusEvents {
  'access.decided': AccessEvent;
  'attendance.recorded': AttendanceRecord;
  'door.changed': DoorState;
  alarm: AlarmEvent;
  'people.changed': { personId: string | null; action: 'created' | 'updated' | 'removed' | 'templates' | 'reload' };
  'settings.changed': { keys: string[]; actor: string };
  'service.status': { name: string; status: ServiceStatus; detail?: string };
  'health.requested': { source: string };
  'camera.status': { source: string; status: 'up' | 'down'; detail?: string };
  /**
   * The frame loop's newest analysed frame and its vision result. Only references travel
   * (no copy); the admin's live view keeps the last one and draws boxes and names.
   */
  'frame.analyzed': { frame: Frame; result: FrameResult };
}

export type BusEventName = keyof BusEvents;

/** A typed wrapper over EventEmitter. Listener errors are reported, never thrown into the emitter. */
export class EventBus {
  private readonly emitter = new EventEmitter();
  private errorHandler: (err: unknown, event: string) => void = () => {};

  constructor() {
    this.emitter.setMaxListeners(100);
  }

  onListenerError(handler: (err: unknown, event: string) => void): void {
    this.errorHandler = handler;
  }

  emit<K extends BusEventName>(event: K, payload: BusEvents[K]): void {
    for (const listener of this.emitter.listeners(event)) {
      try {
        const r = (listener as (p: BusEvents[K]) => unknown)(payload);
        if (r instanceof Promise) r.catch((err: unknown) => this.errorHandler(err, event));
      } catch (err) {
        this.errorHandler(err, event);
      }
    }
  }

  on<K extends BusEventName>(event: K, listener: (payload: BusEvents[K]) => void | Promise<void>): () => void {
    this.emitter.on(event, listener);
    return () => this.emitter.off(event, listener);
  }

  once<K extends BusEventName>(event: K): Promise<BusEvents[K]> {
    return new Promise((resolve) => this.emitter.once(event, resolve));
  }
}
