import { stringify } from 'yaml';
import { loadConfig } from '../config/load.js';
import { redactConfig } from '../config/redact.js';
import { parseCommandArgs, UsageError } from './args.js';

/** `blinkd config check [FILE]`: validate and print the effective configuration, secrets redacted. */
export async function configCommand(argv: string[]): Promise<number> {
  const [sub, ...rest] = argv;
  if (sub !== 'check') throw new UsageError(`unknown config subcommand "${sub ?? ''}" (expected: config check [FILE])`);
  const { values, positionals } = parseCommandArgs(rest, { config: { type: 'string', short: 'c' }, json: { type: 'boolean' } });
  if (positionals.length > 1) throw new UsageError('config check takes at most one FILE');
  const { config, file, envVariables } = loadConfig({ path: positionals[0] ?? values.config });
  const redacted = redactConfig(config);
  if (values.json) process.stdout.write(JSON.stringify({ file, env: envVariables, config: redacted }, null, 2) + '\n');
  else {
    process.stdout.write(`# configuration OK: ${file ?? 'no file, defaults'}${envVariables.length ? ` + ${envVariables.join(', ')}` : ''}\n`);
    process.stdout.write(stringify(redacted));
  }
  return 0;
}
