import { SECRET_PATHS, type Config } from './schema.js';

/** A deep copy with every secret replaced by "***" (empty secrets stay empty, so it shows what is unset). */
export function redactConfig(config: Config): Config {
  const copy = structuredClone(config) as unknown as Record<string, Record<string, unknown>>;
  for (const path of SECRET_PATHS) {
    const keys = path.split('.');
    let node: Record<string, unknown> | undefined = copy;
    for (const key of keys.slice(0, -1)) node = node?.[key] as Record<string, unknown> | undefined;
    const last = keys[keys.length - 1] as string;
    if (node && typeof node[last] === 'string' && node[last] !== '') node[last] = '***';
  }
  return copy as unknown as Config;
}
