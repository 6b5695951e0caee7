/**
 * A command to the unit, whichever interface it came from (admin HTTP, MQTT, CLI). Transports
 * only parse and carry these; what each one does is in commandTable.ts, and every one is audited
 * by the dispatcher.
 */
export type Command =
  { type: 'unlock' } | { type: 'lockdown'; on: boolean } | { type: 'held_unlocked'; on: boolean } | { type: 'reload_people' } | { type: 'request_health' };

export type CommandType = Command['type'];

export interface CommandOrigin {
  /** admin:<username> | mqtt:<topic> | cli | system */
  actor: string;
  via: 'admin' | 'mqtt' | 'cli' | 'system';
}

export interface CommandResult {
  ok: boolean;
  error?: string;
  detail?: Record<string, unknown>;
}

export type CommandHandler<C extends Command = Command> = (cmd: C, origin: CommandOrigin) => CommandResult | Promise<CommandResult>;

/** Every command type and its handler. */
export type CommandTable = { [T in CommandType]: CommandHandler<Extract<Command, { type: T }>> };
