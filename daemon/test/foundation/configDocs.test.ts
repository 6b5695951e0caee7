import { describe, expect, it } from 'vitest';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { parseConfig } from '../../src/config/load.js';
import { configurationReference } from '../../src/config/reference.js';
import { EDITABLE_SETTINGS } from '../../src/config/unitSettings.js';
import { SECRET_PATHS } from '../../src/config/schema.js';
import { REPO_ROOT } from '../helpers/blinkd.js';

/** Leaf key paths of a configuration object (arrays and nulls count as leaves). */
function leafPaths(value: unknown, prefix = ''): string[] {
  if (value === null || typeof value !== 'object' || Array.isArray(value)) return [prefix];
  return Object.entries(value as Record<string, unknown>).flatMap(([k, v]) => leafPaths(v, prefix ? `${prefix}.${k}` : k));
}

describe('configuration reference (derived from the schema)', () => {
  it('docs/CONFIGURATION.md is what `blinkd config docs` generates from the schema (run npm run docs:config)', () => {
    const doc = readFileSync(join(REPO_ROOT, 'docs', 'CONFIGURATION.md'), 'utf8');
    expect(doc).toBe(configurationReference());
  });

  it('documents every key the schema has with a meaning, and no key it does not have', () => {
    const doc = configurationReference();
    const keys = leafPaths(parseConfig({}, 'defaults'));
    const documented = [...doc.matchAll(/^\| `([a-zA-Z0-9.]+)` \| [^|]* \| [^|]* \| (.*) \|$/gm)];
    expect(documented.map((m) => m[1]).sort()).toEqual([...keys].sort());
    for (const m of documented) expect(m[2]!.trim().length, `${m[1]} has no meaning`).toBeGreaterThan(10);
  });

  it('the admin settings list and the secrets come from the same schema metadata', () => {
    expect(EDITABLE_SETTINGS.map((s) => s.path)).toContain('access.threshold');
    expect(EDITABLE_SETTINGS.find((s) => s.path === 'mqtt.url')).toMatchObject({ section: 'mqtt', live: false });
    expect(EDITABLE_SETTINGS.find((s) => s.path === 'door.pulseMs')).toMatchObject({ section: 'door', live: true });
    expect([...SECRET_PATHS].sort()).toEqual(['admin.tls.key', 'mqtt.commands.hmacKey', 'mqtt.password', 'mqtt.tls.key', 'sync.claimCode']);
    for (const s of EDITABLE_SETTINGS) expect(s.secret).toBe(SECRET_PATHS.includes(s.path));
  });
});
