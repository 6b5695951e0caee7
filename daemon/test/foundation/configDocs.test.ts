import { describe, expect, it } from 'vitest';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { parseConfig } from '../../src/config/load.js';
import { REPO_ROOT } from '../helpers/blinkd.js';

/** Leaf key paths of a configuration object (arrays and nulls count as leaves). */
function leafPaths(value: unknown, prefix = ''): string[] {
  if (value === null || typeof value !== 'object' || Array.isArray(value)) return [prefix];
  return Object.entries(value as Record<string, unknown>).flatMap(([k, v]) => leafPaths(v, prefix ? `${prefix}.${k}` : k));
}

describe('configuration reference', () => {
  it('docs/CONFIGURATION.md documents every key the schema has, and no key it does not have', () => {
    const doc = readFileSync(join(REPO_ROOT, 'docs', 'CONFIGURATION.md'), 'utf8');
    const keys = leafPaths(parseConfig({}, 'defaults'));
    const missing = keys.filter((k) => !doc.includes('`' + k + '`'));
    expect(missing).toEqual([]);
    const documented = [...doc.matchAll(/^\| `([a-zA-Z0-9.]+)` \|/gm)].map((m) => m[1]);
    expect(documented.filter((k) => !keys.includes(k as string))).toEqual([]);
  });
});
