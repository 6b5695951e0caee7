import type { AuditRepo } from '../store/auditRepo.js';
import type { Command, CommandOrigin, CommandResult, CommandTable } from './command.js';

/**
 * Runs a command from any transport through the one command table: the same handler, the same
 * effect, the same audit entry (`command.<type>` with who, how, the arguments and the outcome).
 */
export class CommandDispatcher {
  constructor(
    private readonly table: CommandTable,
    private readonly audit: AuditRepo,
  ) {}

  async dispatch(cmd: Command, origin: CommandOrigin): Promise<CommandResult> {
    const handler = this.table[cmd.type] as ((c: Command, o: CommandOrigin) => CommandResult | Promise<CommandResult>) | undefined;
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
