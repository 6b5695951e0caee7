import { redactUrls } from '../util/redactUrl.js';
import { SECRET_PATHS, type Config } from './schema.js';

/**
 * A copy of the config that is safe to print: secret values replaced by *** (empty stays empty,
 * so you can see what is unset), and credentials inside any URL-valued string (an RTSP camera,
 * the broker, the sync server) cut out.
 */
export function redactConfig(config: Config): Config {
  const copy = scrubUrls(structuredClone(config)) as unknown as Record<string, Record<string, unknown>>;
  for (const path of SECRET_PATHS) {
    const keys = path.split('.');
    let node: Record<string, unknown> | undefined = copy;
    for (const key of keys.slice(0, -1)) node = node?.[key] as Record<string, unknown> | undefined;
    const last = keys[keys.length - 1] as string;
    if (node && typeof node[last] === 'string' && node[last] !== '') node[last] = '***';
  }
  return copy as unknown as Config;
}

/** Every string in a JSON-like value with URL credentials cut out (in place for objects and arrays). */
export function scrubUrls<T>(value: T): T {
  if (typeof value === 'string') return redactUrls(value) as T;
  if (Array.isArray(value)) {
    value.forEach((v, i) => (value[i] = scrubUrls(v)));
    return value;
  }
  if (value && typeof value === 'object') {
    for (const [k, v] of Object.entries(value)) (value as Record<string, unknown>)[k] = scrubUrls(v);
  }
  return value;
}
