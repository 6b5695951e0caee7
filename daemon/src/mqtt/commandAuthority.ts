import type { Command } from '../commands/command.js';

/**
 * Commands that open the door or weaken its mode. Over MQTT these need authority: a valid
 * signature (commandSignature.ts), or the installation's explicit opt-in for that command in
 * mqtt.commands.allowUnsigned (for brokers that enforce per-client ACLs, e.g. Home Assistant's
 * MQTT lock, which cannot sign). Everything else — lockdown on, leaving held-unlocked, reloading
 * people, a health report — is safe: it can only make the door more secure or tell something.
 */
export const PRIVILEGED_COMMANDS = ['unlock', 'held_unlocked', 'lockdown_off'] as const;
export type PrivilegedCommand = (typeof PRIVILEGED_COMMANDS)[number];

/** The privilege a command needs, or null when it is safe. */
export function privilegeOf(cmd: Command): PrivilegedCommand | null {
  switch (cmd.type) {
    case 'unlock':
      return 'unlock';
    case 'held_unlocked':
      return cmd.on ? 'held_unlocked' : null;
    case 'lockdown':
      return cmd.on ? null : 'lockdown_off';
    case 'reload_people':
    case 'request_health':
      return null;
  }
}
