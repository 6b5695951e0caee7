/**
 * Every topic this unit publishes or listens on, under `<prefix>/<unit id>`. One place, so
 * docs/MQTT.md, Home Assistant discovery and the command router cannot disagree.
 */
export const COMMAND_NAMES = ['lock', 'unlock', 'lockdown', 'held_unlocked', 'reload_people', 'request_health'] as const;
export type CommandName = (typeof COMMAND_NAMES)[number];

export class Topics {
  /** `<prefix>/<unit>` */
  readonly base: string;

  constructor(
    prefix: string,
    readonly unitId: string,
  ) {
    this.base = `${prefix.replace(/\/+$/, '')}/${unitId}`;
  }

  /** Retained `online`; the last will sets a retained `offline`. */
  get status(): string {
    return `${this.base}/status`;
  }
  /** Every access decision, QoS 1, not retained. */
  get access(): string {
    return `${this.base}/access`;
  }
  /** Retained JSON: contact, relay, mode. */
  get doorState(): string {
    return `${this.base}/door/state`;
  }
  /** Retained LOCKED | UNLOCKED (Home Assistant lock states). */
  get lockState(): string {
    return `${this.base}/lock/state`;
  }
  /** Each alarm raised or cleared, QoS 1, not retained. */
  get alarm(): string {
    return `${this.base}/alarm`;
  }
  /** Retained JSON: the alarms active now. */
  get alarmState(): string {
    return `${this.base}/alarm/state`;
  }
  /** Periodic health, QoS 1, not retained. */
  get health(): string {
    return `${this.base}/health`;
  }
  /** Retained JSON: today's counts and the last person (a snapshot, recomputed). */
  get stats(): string {
    return `${this.base}/stats`;
  }
  /** Every command's outcome (acted on or refused), echoing the request's id. */
  get response(): string {
    return `${this.base}/response`;
  }
  /** Refused commands only (kept for senders that listen here). */
  get error(): string {
    return `${this.base}/error`;
  }
  /** The subscription filter for every command. */
  get commandFilter(): string {
    return `${this.base}/+/set`;
  }

  command(name: CommandName): string {
    return `${this.base}/${name}/set`;
  }

  /** The command segment of a `…/<name>/set` topic (validated later), or null for any other topic. */
  commandOf(topic: string): string | null {
    if (!topic.startsWith(this.base + '/') || !topic.endsWith('/set')) return null;
    const middle = topic.slice(this.base.length + 1, -'/set'.length);
    return middle.length > 0 && !middle.includes('/') ? middle : null;
  }
}
