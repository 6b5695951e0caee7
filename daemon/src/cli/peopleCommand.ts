import { loadEffectiveConfig } from '../config/effective.js';
import { EventBus } from '../events.js';
import { createLogger } from '../logging.js';
import { PeopleRegistry } from '../registry/peopleRegistry.js';
import { Store } from '../store/store.js';
import { configuredEmbedder } from '../vision/modelSet.js';
import { parseCommandArgs, UsageError } from './args.js';

/** `blinkd people list [--json]` and `blinkd people remove ID|NAME`. */
export async function peopleCommand(argv: string[]): Promise<number> {
  const [sub, ...rest] = argv;
  if (sub !== 'list' && sub !== 'remove') throw new UsageError(`unknown people subcommand "${sub ?? ''}" (expected: people list | people remove ID|NAME)`);
  const { values, positionals } = parseCommandArgs(rest, { config: { type: 'string', short: 'c' }, json: { type: 'boolean' } });
  const { config } = loadEffectiveConfig({ path: values.config });
  const store = Store.fromConfig(config);
  const registry = new PeopleRegistry(store, store.audit, new EventBus(), createLogger('warn'), () => null, config.unit.id);
  try {
    if (sub === 'list') {
      // the configured embedder (what `blinkd run` matches with): people without a template of it need re-enrollment
      const model = configuredEmbedder(config.vision);
      registry.activate(model.id, model.dim);
      const people = registry.rows(registry.list()).map((p) => ({
        id: p.id,
        name: p.name,
        status: p.status,
        externalId: p.externalId,
        templates: p.templates,
        currentTemplates: p.currentTemplates,
        needsReenrollment: p.needsReenrollment,
      }));
      if (values.json) process.stdout.write(JSON.stringify(people, null, 2) + '\n');
      else if (people.length === 0) process.stdout.write('no people enrolled\n');
      else
        for (const p of people)
          process.stdout.write(
            `${p.id}  ${p.name}  ${p.status}  ${p.templates} template(s)${p.needsReenrollment ? `  re-enrollment needed (no ${model.id} template)` : ''}\n`,
          );
      return 0;
    }
    if (positionals.length !== 1) throw new UsageError('people remove needs one ID or NAME');
    const key = positionals[0]!;
    let person = registry.get(key);
    if (!person) {
      const byName = registry.list({ search: key, limit: 1000 }).filter((p) => p.name.toLowerCase() === key.toLowerCase());
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
    // The registry's one removal: thumbnails, templates and the person, audited as person.deleted;
    // a running unit's gallery forgets them within seconds (registry revision).
    const erased = registry.remove(person.id, 'cli')!;
    process.stdout.write(
      `removed ${person.name} (${person.id}), ${erased.templatesErased} template(s), ${erased.chipsErased} face chip(s) and ${erased.thumbnailsErased} thumbnail(s)\n`,
    );
    return 0;
  } finally {
    store.close();
  }
}
