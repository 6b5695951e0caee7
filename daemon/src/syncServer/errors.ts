/**
 * Error answers in the original relay's shape (FastAPI): {"detail": "message"} for 4xx/5xx
 * and, for invalid input, 422 with {"detail": [{type, loc, msg, input}, …]} as Pydantic v2
 * writes them, so a client of the original reads our errors unchanged.
 */
import type { ErrorObject } from 'ajv';

export class HttpError extends Error {
  constructor(
    readonly statusCode: number,
    message: string,
    readonly headers: Record<string, string> = {},
  ) {
    super(message);
    this.name = 'HttpError';
  }
}

export const unauthorized = (message: string) => new HttpError(401, message, { 'www-authenticate': 'BLINK-ED25519, Bearer' });
export const forbidden = (message: string) => new HttpError(403, message);
export const notFound = (message = 'not found') => new HttpError(404, message);
export const conflict = (message: string) => new HttpError(409, message);

export interface FastApiErrorItem {
  type: string;
  loc: Array<string | number>;
  msg: string;
  input: unknown;
  ctx?: Record<string, unknown>;
}

/** A 422 with explicit items (checks a schema cannot express). */
export class ValidationFailed extends Error {
  constructor(readonly items: FastApiErrorItem[]) {
    super(items.map((i) => `${i.loc.join('.')}: ${i.msg}`).join('; '));
    this.name = 'ValidationFailed';
  }
}

export function invalid(loc: Array<string | number>, msg: string, input: unknown, type = 'value_error'): ValidationFailed {
  return new ValidationFailed([{ type, loc, msg, input }]);
}

const LOC_ROOT: Record<string, string> = { body: 'body', querystring: 'query', params: 'path', headers: 'header' };

function pathOf(instancePath: string): Array<string | number> {
  if (!instancePath) return [];
  return instancePath
    .split('/')
    .slice(1)
    .map((p) => p.replace(/~1/g, '/').replace(/~0/g, '~'))
    .map((p) => (/^\d+$/.test(p) ? Number(p) : p));
}

function valueAt(root: unknown, path: Array<string | number>): unknown {
  let cur = root;
  for (const k of path) {
    if (cur === null || typeof cur !== 'object') return undefined;
    cur = (cur as Record<string | number, unknown>)[k];
  }
  return cur;
}

const TYPE_NAMES: Record<string, [string, string]> = {
  string: ['string_type', 'Input should be a valid string'],
  integer: ['int_type', 'Input should be a valid integer'],
  number: ['float_type', 'Input should be a valid number'],
  boolean: ['bool_type', 'Input should be a valid boolean'],
  array: ['list_type', 'Input should be a valid list'],
  object: ['dict_type', 'Input should be a valid dictionary'],
  null: ['none_required', 'Input should be None'],
};

/** Ajv errors (Fastify's validation) → Pydantic-style items. */
export function fastApiItems(errors: readonly ErrorObject[], context: string, input: unknown): FastApiErrorItem[] {
  const root = LOC_ROOT[context] ?? context;
  const seen = new Set<string>();
  const items: FastApiErrorItem[] = [];
  for (const e of errors) {
    const path = pathOf(e.instancePath);
    const value = valueAt(input, path);
    let item: FastApiErrorItem;
    const p = e.params as Record<string, unknown>;
    switch (e.keyword) {
      case 'required':
        item = { type: 'missing', loc: [root, ...path, String(p.missingProperty)], msg: 'Field required', input: value };
        break;
      case 'type': {
        const t = String(Array.isArray(p.type) ? p.type[0] : p.type);
        const [type, msg] = TYPE_NAMES[t] ?? ['type_error', `Input should be of type ${t}`];
        item = { type, loc: [root, ...path], msg, input: value };
        break;
      }
      case 'enum':
      case 'const': {
        const allowed = (e.keyword === 'enum' ? (p.allowedValues as unknown[]) : [p.allowedValue]).map((v) => `'${String(v)}'`);
        const list = allowed.length > 1 ? `${allowed.slice(0, -1).join(', ')} or ${allowed[allowed.length - 1]}` : allowed[0];
        item = { type: e.keyword === 'enum' ? 'enum' : 'literal_error', loc: [root, ...path], msg: `Input should be ${list}`, input: value };
        break;
      }
      case 'maxLength':
        item = { type: 'string_too_long', loc: [root, ...path], msg: `String should have at most ${String(p.limit)} characters`, input: value };
        break;
      case 'minLength':
        item = { type: 'string_too_short', loc: [root, ...path], msg: `String should have at least ${String(p.limit)} characters`, input: value };
        break;
      case 'maxItems':
        item = {
          type: 'too_long',
          loc: [root, ...path],
          msg: `List should have at most ${String(p.limit)} items after validation, not ${Array.isArray(value) ? value.length : '?'}`,
          input: Array.isArray(value) ? `[${value.length} items]` : value,
        };
        break;
      case 'minItems':
        item = { type: 'too_short', loc: [root, ...path], msg: `List should have at least ${String(p.limit)} items after validation, not 0`, input: value };
        break;
      case 'pattern':
        item = { type: 'string_pattern_mismatch', loc: [root, ...path], msg: `String should match pattern '${String(p.pattern)}'`, input: value };
        break;
      case 'minimum':
        item = { type: 'greater_than_equal', loc: [root, ...path], msg: `Input should be greater than or equal to ${String(p.limit)}`, input: value };
        break;
      case 'maximum':
        item = { type: 'less_than_equal', loc: [root, ...path], msg: `Input should be less than or equal to ${String(p.limit)}`, input: value };
        break;
      case 'additionalProperties':
        item = {
          type: 'extra_forbidden',
          loc: [root, ...path, String(p.additionalProperty)],
          msg: 'Extra inputs are not permitted',
          input: valueAt(value, [String(p.additionalProperty)]),
        };
        break;
      default:
        item = { type: 'value_error', loc: [root, ...path], msg: e.message ?? 'invalid value', input: value };
    }
    // anyOf reports each branch: one item per location is enough for a person to fix it.
    const key = JSON.stringify(item.loc) + item.type;
    if (seen.has(key)) continue;
    seen.add(key);
    items.push(item);
  }
  return items;
}
