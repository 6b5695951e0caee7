import { loadConfig } from '../config/load.js';
import { Store } from '../store/store.js';
import { parseCommandArgs, UsageError } from './args.js';

/** `blinkd people list [--json]` and `blinkd people remove ID|NAME`. */
export async function peopleCommand(argv: string[]): Promise<number> {
  const [sub, ...rest] = argv;
  if (sub !== 'list' && sub !== 'remove') throw new UsageError(`unknown people subcommand "${sub ?? ''}" (expected: people list | people remove ID|NAME)`);
  const { values, positionals } = parseCommandArgs(rest, { config: { type: 'string', short: 'c' }, json: { type: 'boolean' } });
  const { config } = loadConfig({ path: values.config });
  const store = Store.fromConfig(config);
  try {
    if (sub === 'list') {
      const people = store.people
        .list({ limit: 1_000_000 })
        .map((p) => ({ id: p.id, name: p.name, status: p.status, externalId: p.externalId, templates: store.templates.countForPerson(p.id) }));
      if (values.json) process.stdout.write(JSON.stringify(people, null, 2) + '\n');
      else if (people.length === 0) process.stdout.write('no people enrolled\n');
      else for (const p of people) process.stdout.write(`${p.id}  ${p.name}  ${p.status}  ${p.templates} template(s)\n`);
      return 0;
    }
    if (positionals.length !== 1) throw new UsageError('people remove needs one ID or NAME');
    const key = positionals[0]!;
    let person = store.people.get(key);
    if (!person) {
      const byName = store.people.list({ search: key, limit: 1000 }).filter((p) => p.name.toLowerCase() === key.toLowerCase());
      if (byName.length > 1) {
        process.stderr.write(`blinkd people remove: ${byName.length} people are named "${key}"; give the id:\n${byName.map((p) => `  ${p.id}`).join('\n')}\n`);
        return 1;
      }
      person = byName[0];
    }
    if (!person) {
      process.stderr.write(`blinkd people remove: nobody with id or name "${key}"\n`);
      return 1;
    }
    const templates = store.templates.countForPerson(person.id);
    store.transaction(() => {
      store.people.remove(person.id);
      store.audit.record('cli', 'person.remove', person.id, { name: person.name, templates });
    });
    process.stdout.write(`removed ${person.name} (${person.id}) and ${templates} template(s)\n`);
    return 0;
  } finally {
    store.close();
  }
}
