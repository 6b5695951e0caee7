import type { AccessEvent } from './store/eventsRepo.js';
import type { AttendanceRecord } from './store/attendanceRepo.js';
import type { Frame } from './camera/frame.js';
import type { FrameResult } from './vision/types.js';

/** What travels between services. Each service subscribes to what it needs; none calls another's internals. */
export type DoorMode = 'normal' | 'lockdown' | 'held_unlocked';
export type AlarmType = 'held_open' | 'forced_open' | 'camera_lost' | 'tailgating' | 'vision_stalled' | 'storage_failed' | 'disk_low';

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
  /** When this change happened (ISO). */
  ts: string;
  /** When the alarm became active (ISO; equals ts when raised, the original time when cleared). */
  since: string;
  /** Why it was raised or cleared, in words. */
  reason: string;
  details?: Record<string, unknown>;
}

/** A request-to-exit button press, reported by the door (the access service records it). */
export interface ExitRequest {
  ts: string;
  /** false when the relay could not be pulsed (never in practice: egress is not blocked by lockdown). */
  opened: boolean;
  mode: DoorMode;
}

export type ServiceStatus = 'stopped' | 'starting' | 'running' | 'degraded' | 'stopping' | 'failed' | 'disabled';

export interface BusEvents {
  'access.decided': AccessEvent;
  'attendance.recorded': AttendanceRecord;
  'door.changed': DoorState;
  'door.exit_request': ExitRequest;
  alarm: AlarmEvent;
  'people.changed': { personId: string | null; action: 'created' | 'updated' | 'removed' | 'templates' | 'reload' };
  'settings.changed': { keys: string[]; actor: string };
  'service.status': { name: string; status: ServiceStatus; detail?: string };
  'camera.status': { source: string; status: 'up' | 'down'; detail?: string };
  /**
   * The frame loop's newest analysed frame and its vision result. Only references travel
   * (no copy); the admin's live view keeps the last one and draws boxes and names.
   */
  'frame.analyzed': { frame: Frame; result: FrameResult };
}

export type BusEventName = keyof BusEvents;

type Listener = (payload: never) => void | Promise<void>;

/**
 * A typed event bus. Every listener is registered under its owner (a service, usually `this`),
 * and removeListeners(owner) takes all of that owner's listeners off at once when it stops, so no
 * service keeps its own list of unsubscribe functions. Listener errors are reported, never thrown
 * into the emitter; an async listener's rejection is reported too.
 */
export class EventBus {
  private readonly listeners = new Map<BusEventName, Array<{ owner: object; fn: Listener }>>();
  private errorHandler: (err: unknown, event: string) => void = () => {};

  onListenerError(handler: (err: unknown, event: string) => void): void {
    this.errorHandler = handler;
  }

  emit<K extends BusEventName>(event: K, payload: BusEvents[K]): void {
    const list = this.listeners.get(event);
    if (!list) return;
    for (const { fn } of [...list]) {
      try {
        const r = (fn as (p: BusEvents[K]) => unknown)(payload);
        if (r instanceof Promise) r.catch((err: unknown) => this.errorHandler(err, event));
      } catch (err) {
        this.errorHandler(err, event);
      }
    }
  }

  on<K extends BusEventName>(owner: object, event: K, listener: (payload: BusEvents[K]) => void | Promise<void>): void {
    const list = this.listeners.get(event) ?? [];
    list.push({ owner, fn: listener as Listener });
    this.listeners.set(event, list);
  }

  /** Removes every listener `owner` registered. */
  removeListeners(owner: object): void {
    for (const [event, list] of this.listeners) {
      const kept = list.filter((l) => l.owner !== owner);
      if (kept.length) this.listeners.set(event, kept);
      else this.listeners.delete(event);
    }
  }

  /** The next payload of `event`. */
  once<K extends BusEventName>(event: K): Promise<BusEvents[K]> {
    const owner = {};
    return new Promise((resolve) =>
      this.on(owner, event, (p) => {
        this.removeListeners(owner);
        resolve(p);
      }),
    );
  }

  listenerCount(owner?: object): number {
    let n = 0;
    for (const list of this.listeners.values()) n += owner ? list.filter((l) => l.owner === owner).length : list.length;
    return n;
  }
}
