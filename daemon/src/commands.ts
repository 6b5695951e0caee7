import type { AuditRepo } from './store/auditRepo.js';
import type { EventBus } from './events.js';

/**
 * One handler for every command, whichever interface it came from (admin HTTP, MQTT,
 * CLI): the same validation, the same effect, the same audit entry.
 */
export type Command =
  { type: 'unlock' } | { type: 'lockdown'; on: boolean } | { type: 'held_unlocked'; on: boolean } | { type: 'reload_people' } | { type: 'request_health' };

export interface CommandOrigin {
  /** admin:<username> | mqtt:<client id or topic> | cli | system */
  actor: string;
  via: 'admin' | 'mqtt' | 'cli' | 'system';
}

export interface CommandResult {
  ok: boolean;
  error?: string;
  detail?: Record<string, unknown>;
}

export type CommandHandler<C extends Command = Command> = (cmd: C, origin: CommandOrigin) => CommandResult | Promise<CommandResult>;

export class CommandDispatcher {
  private readonly handlers = new Map<Command['type'], CommandHandler>();

  constructor(
    private readonly audit: AuditRepo,
    private readonly bus: EventBus,
  ) {
    this.register('request_health', (_c, origin) => {
      this.bus.emit('health.requested', { source: origin.actor });
      return { ok: true };
    });
  }

  register<T extends Command['type']>(type: T, handler: CommandHandler<Extract<Command, { type: T }>>): void {
    this.handlers.set(type, handler as CommandHandler);
  }

  async dispatch(cmd: Command, origin: CommandOrigin): Promise<CommandResult> {
    const handler = this.handlers.get(cmd.type);
    let result: CommandResult;
    if (!handler) result = { ok: false, error: `command "${cmd.type}" is not available on this unit` };
    else {
      try {
        result = await handler(cmd, origin);
      } catch (err) {
        result = { ok: false, error: (err as Error).message };
      }
    }
    const { type, ...args } = cmd;
    this.audit.record(origin.actor, `command.${type}`, null, { via: origin.via, ...args, ok: result.ok, ...(result.error ? { error: result.error } : {}) });
    return result;
  }
}
