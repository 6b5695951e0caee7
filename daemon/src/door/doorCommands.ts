import type { CommandDispatcher } from '../commands.js';
import type { Config } from '../config/schema.js';
import type { DoorService } from './doorService.js';

/**
 * The door's commands, the same from the admin API, MQTT and the CLI: a remote unlock
 * (refused in lockdown), lockdown on/off and held-unlocked on/off (refused in lockdown).
 * The dispatcher writes the audit entry.
 */
export function registerDoorCommands(commands: CommandDispatcher, door: DoorService, config: Config): void {
  commands.register('unlock', (_c, origin) => {
    const r = door.grant(`command:${origin.actor}`, config.door.pulseMs);
    return r.ok ? { ok: true, detail: { pulseMs: r.ms ?? 0, mode: door.state().mode } } : { ok: false, error: r.error ?? 'unlock failed' };
  });
  commands.register('lockdown', (c) => {
    if (typeof c.on !== 'boolean') return { ok: false, error: 'lockdown needs on: true or false' };
    door.setMode(c.on ? 'lockdown' : 'normal');
    return { ok: true, detail: { mode: door.state().mode } };
  });
  commands.register('held_unlocked', (c) => {
    if (typeof c.on !== 'boolean') return { ok: false, error: 'held_unlocked needs on: true or false' };
    if (c.on && door.state().mode === 'lockdown') return { ok: false, error: 'the unit is in lockdown: leave lockdown first' };
    if (!c.on && door.state().mode !== 'held_unlocked') return { ok: true, detail: { mode: door.state().mode } };
    door.setMode(c.on ? 'held_unlocked' : 'normal');
    return { ok: true, detail: { mode: door.state().mode } };
  });
}
