import { ConfigError } from './config/errors.js';
import { DatabaseDamagedError } from './store/database.js';
import { packageVersion } from './system/paths.js';
import { UsageError } from './cli/args.js';
import { runCommand } from './cli/runCommand.js';
import { configCommand } from './cli/configCommand.js';
import { dbCommand } from './cli/dbCommand.js';
import { enrollCommand } from './cli/enrollCommand.js';
import { identifyCommand } from './cli/identifyCommand.js';
import { peopleCommand } from './cli/peopleCommand.js';
import { relayCommand } from './cli/relayCommand.js';

type CommandFn = (argv: string[]) => Promise<number>;

/** Every `blinkd` subcommand: name → [handler, one-line help]. Later features add theirs here. */
export const COMMANDS: Record<string, [CommandFn, string]> = {
  run: [runCommand, 'run [--config FILE]            start the door daemon'],
  config: [configCommand, 'config check [FILE]            validate a configuration and print it (secrets redacted)'],
  db: [dbCommand, 'db status [--json]             database file, schema version, counts, outbox depths'],
  relay: [relayCommand, 'relay off|status|pulse [--ms N] the door relay without the daemon (off: systemd ExecStopPost)'],
  enroll: [enrollCommand, 'enroll --name NAME IMAGE...    enroll a person from photos (3–5 recommended)'],
  identify: [identifyCommand, 'identify IMAGE                 best match, score, margin and liveness scores'],
  people: [peopleCommand, 'people list | remove ID|NAME   list or remove enrolled people'],
  eval: [
    async (argv) => (await import('./eval/main.js')).evalMain(argv),
    'eval --data DIR [--json FILE]   accuracy on a DIR/<identity>/<image> folder (same as npm run eval)',
  ],
  bench: [
    async (argv) => (await import('./bench/main.js')).benchMain(argv),
    'bench [--only S,…] [--json FILE] speed and memory as JSON (same as npm run bench)',
  ],
  'sync-server': [
    async (argv) => (await import('./syncServer/command.js')).syncServerCommand(argv),
    'sync-server [--port N] [--data DIR] the sync server, and its operator commands (sync-server --help)',
  ],
  firstboot: [
    async (argv) => (await import('./cli/firstbootCommand.js')).firstbootCommand(argv),
    'firstboot [--json]             make the unit id, setup token, admin TLS and sync device key (first boot; idempotent)',
  ],
  update: [
    async (argv) => (await import('./cli/updateCommand.js')).updateCommand(argv),
    'update apply FILE|status|rollback signed app updates with a health gate and rollback (update --help)',
  ],
  version: [async () => (process.stdout.write(`blinkd ${packageVersion()}\n`), 0), 'version                        print the version'],
};

function usage(): string {
  return [
    'usage: blinkd <command> [options]',
    '',
    ...Object.values(COMMANDS).map(([, help]) => '  ' + help),
    '',
    'Options common to all commands: --config FILE (default: $BLINK_CONFIG, /etc/blink/blinkd.yaml, ./blinkd.yaml).',
    'Environment: BLINK_<SECTION>__<KEY>=value overrides a key, e.g. BLINK_ADMIN__PORT=8081.',
  ].join('\n');
}

export async function main(argv: string[]): Promise<number> {
  const [name, ...rest] = argv;
  if (!name || name === '--help' || name === '-h' || name === 'help') {
    process.stdout.write(usage() + '\n');
    return name ? 0 : 2;
  }
  if (name === '--version' || name === '-v') return COMMANDS.version![0]([]);
  const entry = COMMANDS[name];
  if (!entry) {
    process.stderr.write(`blinkd: unknown command "${name}"\n\n${usage()}\n`);
    return 2;
  }
  try {
    return await entry[0](rest);
  } catch (err) {
    if (err instanceof ConfigError) {
      process.stderr.write(`blinkd: ${err.message}\nblinkd refuses to start with an invalid configuration.\n`);
      return 78; // EX_CONFIG: systemd's RestartPreventExitStatus keeps it from looping
    }
    if (err instanceof DatabaseDamagedError) {
      process.stderr.write(`blinkd: ${err.message}\n`);
      return 65; // EX_DATAERR: not restarted by systemd (RestartPreventExitStatus), so no crash loop
    }
    if (err instanceof UsageError) {
      process.stderr.write(`blinkd: ${err.message}\n\n${usage()}\n`);
      return 2;
    }
    // A message for people; the stack only when asked for (BLINK_DEBUG=1).
    const e = err as Error;
    process.stderr.write(`blinkd: ${process.env.BLINK_DEBUG ? (e.stack ?? String(err)) : (e.message ?? String(err))}\n`);
    return 1;
  }
}
