import type { Controller } from '../controller.js';
import type { Logger } from '../logging.js';

/** Whole shutdown budget: systemd's TimeoutStopSec is larger, so we always exit on our own. */
export const SHUTDOWN_BUDGET_MS = 4000;

/**
 * SIGTERM/SIGINT: stop everything (relay off first) and exit 0 within the budget.
 * Uncaught errors: log, relay off, exit 1 so systemd restarts the unit.
 * Process exit by any path: relay off (synchronous), as a last line of defence.
 */
export function installProcessHandlers(controller: Controller, log: Logger, onStopped: () => void = () => {}): void {
  let signalled = false;
  const onSignal = (signal: NodeJS.Signals) => {
    if (signalled) {
      log.warn({ signal }, 'second signal: exiting now');
      controller.emergencyOff();
      process.exit(1);
    }
    signalled = true;
    const deadline = setTimeout(() => {
      log.error({ budgetMs: SHUTDOWN_BUDGET_MS }, 'shutdown took too long: relay off, exiting');
      controller.emergencyOff();
      process.exit(1);
    }, SHUTDOWN_BUDGET_MS);
    deadline.unref();
    controller
      .stop(signal)
      .then(() => {
        onStopped();
        clearTimeout(deadline);
        process.exit(0);
      })
      .catch((err: unknown) => {
        log.error({ err }, 'shutdown failed');
        controller.emergencyOff();
        process.exit(1);
      });
  };
  process.on('SIGTERM', onSignal);
  process.on('SIGINT', onSignal);

  const onFatal = (err: unknown, kind: string) => {
    const off = controller.emergencyOff();
    log.fatal({ err, kind, relay: off ? 'off' : 'unknown' }, 'fatal error: relay off, exiting for a restart');
    process.exit(1);
  };
  process.on('uncaughtException', (err) => onFatal(err, 'uncaughtException'));
  process.on('unhandledRejection', (err) => onFatal(err, 'unhandledRejection'));
  process.on('exit', () => controller.emergencyOff());
}
