import type { AlarmType, EventBus } from '../events.js';
import type { Logger } from '../logging.js';

export interface ActiveAlarm {
  type: AlarmType;
  /** When it became active (ISO). */
  since: string;
  /** Why it was raised, in words. */
  reason: string;
  details: Record<string, unknown> | null;
}

/**
 * The one owner of the unit's active alarms. The door (held_open, forced_open), the camera
 * (camera_lost), the access service (tailgating), the watchdog (vision_stalled) and the storage
 * service (storage_failed, disk_low) raise and
 * clear them here; MQTT, the admin and /health read active() and follow the bus 'alarm' event.
 * An alarm raised before a reader started (camera_lost at start-up, before MQTT) is therefore
 * never missed: the reader asks for the active set when it starts.
 */
export class AlarmRegistry {
  private readonly active_ = new Map<AlarmType, ActiveAlarm>();

  constructor(
    private readonly bus: EventBus,
    private readonly log: Logger,
    private readonly now: () => Date = () => new Date(),
  ) {}

  /** Raises `type` (no change when it is already active). Returns true when it was newly raised. */
  raise(type: AlarmType, reason: string, details: Record<string, unknown> | null = null): boolean {
    if (this.active_.has(type)) return false;
    const ts = this.now().toISOString();
    const alarm: ActiveAlarm = { type, since: ts, reason, details };
    this.active_.set(type, alarm);
    this.log.warn({ alarm: type, reason, ...(details ?? {}) }, 'alarm raised');
    this.bus.emit('alarm', { type, active: true, ts, since: ts, reason, ...(details ? { details } : {}) });
    return true;
  }

  /** Clears `type` (no change when it is not active). Returns true when it was active. */
  clear(type: AlarmType, reason: string): boolean {
    const a = this.active_.get(type);
    if (!a) return false;
    this.active_.delete(type);
    const ts = this.now().toISOString();
    this.log.info({ alarm: type, reason, activeSince: a.since }, 'alarm cleared');
    this.bus.emit('alarm', { type, active: false, ts, since: a.since, reason });
    return true;
  }

  isActive(type: AlarmType): boolean {
    return this.active_.has(type);
  }

  /** The active alarms, by type. */
  active(): ActiveAlarm[] {
    return [...this.active_.values()].sort((a, b) => a.type.localeCompare(b.type));
  }

  types(): AlarmType[] {
    return this.active().map((a) => a.type);
  }
}
