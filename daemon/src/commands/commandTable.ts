import type { Config } from '../config/schema.js';
import type { DoorService } from '../door/doorService.js';
import type { PeopleRegistry } from '../registry/peopleRegistry.js';
import type { CommandTable } from './command.js';

export interface CommandDeps {
  door: DoorService;
  registry: PeopleRegistry;
  config: Config;
  /** The unit's health status right now (healthy | degraded | unhealthy). */
  healthStatus: () => string;
  /** Publishes a health report to the fleet now (MQTT), when a transport for it runs. */
  publishHealth: () => void;
}

/**
 * Every command the unit takes and what it does, in one place. Transports (admin, MQTT, CLI) only
 * parse and carry commands to the dispatcher; adding a command means adding it here (and to
 * command.ts), and every transport gets the same behaviour.
 */
export function commandTable(d: CommandDeps): CommandTable {
  return {
    // A remote unlock: one pulse of door.pulseMs; refused in lockdown.
    unlock: (_c, origin) => {
      const r = d.door.grant(`command:${origin.actor}`, d.config.door.pulseMs);
      return r.ok ? { ok: true, detail: { pulseMs: r.ms ?? 0, mode: d.door.state().mode } } : { ok: false, error: r.error ?? 'unlock failed' };
    },
    lockdown: (c) => {
      if (typeof c.on !== 'boolean') return { ok: false, error: 'lockdown needs on: true or false' };
      d.door.setMode(c.on ? 'lockdown' : 'normal');
      return { ok: true, detail: { mode: d.door.state().mode } };
    },
    // Held unlocked: the relay stays on until the mode is left; refused in lockdown.
    held_unlocked: (c) => {
      if (typeof c.on !== 'boolean') return { ok: false, error: 'held_unlocked needs on: true or false' };
      if (c.on && d.door.state().mode === 'lockdown') return { ok: false, error: 'the unit is in lockdown: leave lockdown first' };
      if (!c.on && d.door.state().mode !== 'held_unlocked') return { ok: true, detail: { mode: d.door.state().mode } };
      const refusal = d.door.setMode(c.on ? 'held_unlocked' : 'normal');
      if (refusal) return { ok: false, error: refusal };
      return { ok: true, detail: { mode: d.door.state().mode, ...(c.on ? { endsAfterMinutes: d.config.door.heldUnlockedMaxMinutes } : {}) } };
    },
    // Re-read people and templates from the database (changes made by another process are also picked up by themselves within seconds).
    reload_people: () => ({ ok: true, detail: d.registry.reload() }),
    request_health: () => {
      d.publishHealth();
      return { ok: true, detail: { status: d.healthStatus() } };
    },
  };
}
