import { stringify } from 'yaml';
import { loadEffectiveConfig } from '../config/effective.js';
import { redactConfig } from '../config/redact.js';
import { configurationReference } from '../config/reference.js';
import { parseCommandArgs, UsageError } from './args.js';

/**
 * `blinkd config check [FILE]`: validate and print the effective configuration (the file, the
 * environment and the settings saved in the admin), secrets redacted.
 * `blinkd config docs`: the configuration reference (docs/CONFIGURATION.md), from the schema.
 */
export async function configCommand(argv: string[]): Promise<number> {
  const [sub, ...rest] = argv;
  if (sub === 'docs') {
    process.stdout.write(configurationReference());
    return 0;
  }
  if (sub !== 'check') throw new UsageError(`unknown config subcommand "${sub ?? ''}" (expected: config check [FILE] | config docs)`);
  const { values, positionals } = parseCommandArgs(rest, { config: { type: 'string', short: 'c' }, json: { type: 'boolean' } });
  if (positionals.length > 1) throw new UsageError('config check takes at most one FILE');
  const { config, file, envVariables, saved, migrationNotes } = loadEffectiveConfig({ path: positionals[0] ?? values.config });
  const redacted = redactConfig(config);
  if (values.json)
    process.stdout.write(JSON.stringify({ file, env: envVariables, savedSettings: saved, migrated: migrationNotes, config: redacted }, null, 2) + '\n');
  else {
    const from = [
      file ?? 'no file, defaults',
      ...(envVariables.length ? [envVariables.join(', ')] : []),
      ...(saved.applied.length ? [`saved settings ${saved.applied.join(', ')}`] : []),
    ];
    process.stdout.write(`# configuration OK: ${from.join(' + ')}\n`);
    for (const n of migrationNotes) process.stdout.write(`# migrated: ${n}\n`);
    for (const k of saved.skipped) process.stdout.write(`# saved setting ${k} no longer validates: ignored\n`);
    process.stdout.write(stringify(redacted));
  }
  return 0;
}
