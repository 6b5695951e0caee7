import { parse as parseYamlScalar } from 'yaml';
import { z, type ZodTypeAny } from 'zod';
import { schemaKeys } from './meta.js';
import { configSchema } from './schema.js';

/**
 * Environment overrides: BLINK_<SECTION>__<KEY>[__<SUBKEY>] = value, with each path
 * segment in UPPER_SNAKE case (BLINK_ADMIN__PORT=8081, BLINK_ACCESS__LIVENESS__BLINK=false,
 * BLINK_MQTT__TLS__CA=/etc/blink/ca.pem). Values are read as YAML scalars, so numbers,
 * booleans and null come through typed; the schema then validates them like file values.
 * Variables without "__" (BLINK_CONFIG, BLINK_TEST_DATA, …) are not configuration keys.
 */
export const ENV_PREFIX = 'BLINK_';

function snakeToCamel(segment: string): string {
  return segment.toLowerCase().replace(/_([a-z0-9])/g, (_, c: string) => c.toUpperCase());
}

export interface EnvOverride {
  variable: string;
  path: string[];
  value: unknown;
}

/** Is the key at this path a string in the schema (then the environment's text is taken as it is)? */
function isStringKey(path: string): boolean {
  let s: ZodTypeAny | undefined = stringKeys().get(path);
  while (s instanceof z.ZodDefault || s instanceof z.ZodOptional || s instanceof z.ZodNullable || s instanceof z.ZodEffects) {
    s = s instanceof z.ZodEffects ? (s._def.schema as ZodTypeAny) : s instanceof z.ZodDefault ? (s._def.innerType as ZodTypeAny) : (s.unwrap() as ZodTypeAny);
  }
  return s instanceof z.ZodString;
}
let keyTypes: Map<string, ZodTypeAny> | null = null;
const stringKeys = () => (keyTypes ??= new Map(schemaKeys(configSchema).map((k) => [k.path, k.schema])));

export function readEnvOverrides(env: NodeJS.ProcessEnv): EnvOverride[] {
  const out: EnvOverride[] = [];
  for (const [name, raw] of Object.entries(env)) {
    if (!name.startsWith(ENV_PREFIX) || raw === undefined) continue;
    const rest = name.slice(ENV_PREFIX.length);
    if (!rest.includes('__')) continue;
    const path = rest.split('__').map(snakeToCamel);
    let value: unknown = raw;
    // A string key keeps the text exactly (a digits-only password stays a string); others are read as YAML scalars.
    if (!isStringKey(path.join('.'))) {
      try {
        value = raw === '' ? '' : parseYamlScalar(raw);
      } catch {
        value = raw;
      }
    }
    out.push({ variable: name, path, value });
  }
  return out.sort((a, b) => a.variable.localeCompare(b.variable));
}

export function applyOverrides(target: Record<string, unknown>, overrides: EnvOverride[]): void {
  for (const { path, value } of overrides) {
    let node: Record<string, unknown> = target;
    for (const key of path.slice(0, -1)) {
      const next = node[key];
      if (next === null || typeof next !== 'object' || Array.isArray(next)) node[key] = {};
      node = node[key] as Record<string, unknown>;
    }
    node[path[path.length - 1] as string] = value;
  }
}
