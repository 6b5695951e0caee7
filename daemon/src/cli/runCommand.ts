import { loadConfig } from '../config/load.js';
import { buildUnit } from '../compositionRoot.js';
import { Controller } from '../controller.js';
import { createLogger } from '../logging.js';
import { installProcessHandlers } from '../system/lifecycle.js';
import { packageVersion } from '../system/paths.js';
import { parseCommandArgs } from './args.js';

export async function runCommand(argv: string[]): Promise<number> {
  const { values } = parseCommandArgs(argv, { config: { type: 'string', short: 'c' } }, false);
  const { config, file, envVariables, migrationNotes } = loadConfig({ path: values.config });
  const log = createLogger(config.logging.level);
  log.info({ version: packageVersion(), config: file ?? '(defaults)', env: envVariables, unit: config.unit.id, pid: process.pid }, 'blinkd starting');
  for (const note of migrationNotes) log.warn({ config: file }, `configuration: ${note}`);
  const controller = new Controller(buildUnit(config, log), log);
  installProcessHandlers(controller, log);
  try {
    await controller.start();
  } catch (err) {
    controller.emergencyOff();
    log.fatal({ err }, 'start failed: relay off');
    await controller.stop('start failed').catch(() => {});
    return 1;
  }
  log.info({ services: controller.serviceStates() }, 'blinkd running');
  // Keep running until a signal arrives; the handlers exit the process.
  return new Promise<number>(() => {});
}
