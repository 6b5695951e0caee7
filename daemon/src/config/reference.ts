import { schemaKeys, schemaSections } from './meta.js';
import { configSchema, SECRET_PATHS } from './schema.js';
import { parseConfig } from './load.js';
import { getPath } from './unitSettings.js';

const INTRO = `# Configuration reference

<!-- Generated from daemon/src/config/schema.ts by \`npm run docs:config\` (blinkd config docs). Edit the schema, not this page. -->

\`blinkd\` reads one YAML or JSON file (see the README for which one) validated against
\`daemon/src/config/schema.ts\`. Every key has a default; an unknown key, a wrong type, an
out-of-range number or a bad enum value stops the daemon with a message naming the key.
Override any key from the environment as \`BLINK_<SECTION>__<KEY>[__<SUBKEY>]\`, upper snake
case (\`BLINK_ACCESS__LIVENESS__BLINK_TIMEOUT_MS=5000\`). \`blinkd config check\` prints the
effective configuration with secrets (__SECRETS__) shown as \`***\`.

Settings changed in the web admin are stored in the unit's database and laid over the file for
every command (\`blinkd run\`, \`config check\`, \`identify\`, \`enroll\`); the admin says which
apply at once and which need a restart (column "admin" below: *live* or *restart*).

A file written for an older blinkd is migrated when it is read: a renamed key is carried over
with a warning naming the new key (\`version\` below).
`;

function showDefault(value: unknown): string {
  if (value === '' || value === null || value === undefined) return 'empty';
  return '`' + (typeof value === 'string' ? value : JSON.stringify(value)) + '`';
}

/** The whole docs/CONFIGURATION.md, derived from the schema's metadata. */
export function configurationReference(): string {
  const defaults = parseConfig({ unit: { id: 'x' } }, 'defaults');
  const keys = schemaKeys(configSchema);
  const sections = new Map(schemaSections(configSchema).map((s) => [s.path, s.meta]));
  const out: string[] = [INTRO.trim().replace('__SECRETS__', SECRET_PATHS.map((p) => '`' + p + '`').join(', '))];
  const top = keys.filter((k) => !k.path.includes('.'));
  const groups = new Map<string, typeof keys>();
  for (const k of keys.filter((k) => k.path.includes('.'))) {
    const sec = k.path.split('.')[0]!;
    groups.set(sec, [...(groups.get(sec) ?? []), k]);
  }
  const table = (rows: typeof keys) => {
    const lines = ['| key | default | admin | meaning |', '|---|---|---|---|'];
    for (const k of rows) {
      const admin = k.meta?.admin ? (k.meta.live ? 'live' : 'restart') : '';
      const def = k.meta?.defaultText ?? showDefault(getPath(defaults, k.path));
      lines.push(`| \`${k.path}\` | ${def} | ${admin} | ${(k.meta?.doc ?? '').replace(/\|/g, '\\|')}${k.meta?.secret ? ' Secret.' : ''} |`);
    }
    return lines.join('\n');
  };
  if (top.length) out.push('## top level\n\n' + table(top));
  for (const [sec, rows] of groups) {
    const parts = [`## ${sec}`];
    const note = sections.get(sec)?.note;
    if (note) parts.push(note);
    for (const [path, meta] of sections) if (path.startsWith(sec + '.') && meta?.note) parts.push(`\`${path}\`: ${meta.note}`);
    parts.push(table(rows));
    out.push(parts.join('\n\n'));
  }
  return out.join('\n\n') + '\n';
}
