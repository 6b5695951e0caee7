import { parse as parseYamlScalar } from 'yaml';

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

export function readEnvOverrides(env: NodeJS.ProcessEnv): EnvOverride[] {
  const out: EnvOverride[] = [];
  for (const [name, raw] of Object.entries(env)) {
    if (!name.startsWith(ENV_PREFIX) || raw === undefined) continue;
    const rest = name.slice(ENV_PREFIX.length);
    if (!rest.includes('__')) continue;
    const path = rest.split('__').map(snakeToCamel);
    let value: unknown = raw;
    try {
      value = raw === '' ? '' : parseYamlScalar(raw);
    } catch {
      value = raw;
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
