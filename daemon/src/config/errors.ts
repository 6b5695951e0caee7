import type { ZodError, ZodIssue } from 'zod';

/** A configuration problem the daemon refuses to start with. `problems` name the key paths. */
export class ConfigError extends Error {
  constructor(
    readonly source: string,
    readonly problems: string[],
  ) {
    super(`invalid configuration (${source}):\n  - ${problems.join('\n  - ')}`);
    this.name = 'ConfigError';
  }
}

function valueAt(input: unknown, path: (string | number)[]): unknown {
  let cur: unknown = input;
  for (const key of path) {
    if (cur === null || typeof cur !== 'object') return undefined;
    cur = (cur as Record<string | number, unknown>)[key];
  }
  return cur;
}

function show(value: unknown): string {
  if (value === undefined) return 'nothing';
  const text = JSON.stringify(value);
  const type = value === null ? 'null' : Array.isArray(value) ? 'array' : typeof value;
  return `${text && text.length > 60 ? text.slice(0, 57) + '...' : text} (${type})`;
}

function expected(issue: ZodIssue): string {
  switch (issue.code) {
    case 'invalid_type':
      return `${/^[aeiou]/.test(issue.expected) ? 'an' : 'a'} ${issue.expected}`;
    case 'too_small':
      return issue.type === 'string'
        ? `a string of at least ${issue.minimum} characters`
        : issue.type === 'array'
          ? `at least ${issue.minimum} item(s)`
          : `a number ${issue.inclusive ? '≥' : '>'} ${issue.minimum}`;
    case 'too_big':
      return issue.type === 'string'
        ? `a string of at most ${issue.maximum} characters`
        : issue.type === 'array'
          ? `at most ${issue.maximum} item(s)`
          : `a number ${issue.inclusive ? '≤' : '<'} ${issue.maximum}`;
    case 'invalid_enum_value':
      return `one of ${issue.options.map((o) => JSON.stringify(o)).join(', ')}`;
    case 'invalid_literal':
      return JSON.stringify(issue.expected);
    case 'invalid_union':
      return issue.unionErrors
        .flatMap((e) => e.issues.map((i) => expected(i)))
        .filter((v, i, a) => a.indexOf(v) === i)
        .join(' or ');
    case 'not_multiple_of':
      return `a multiple of ${issue.multipleOf}`;
    default:
      return issue.message;
  }
}

/**
 * Turns zod issues into one line per problem: key path, the value found, what was expected. The
 * value of a secret key (`secretPaths`) is never shown: only its type.
 */
export function describeIssues(error: ZodError, input: unknown, keyPrefix = '', secretPaths: readonly string[] = []): string[] {
  const lines: string[] = [];
  for (const issue of error.issues) {
    const path = keyPrefix + issue.path.join('.');
    if (issue.code === 'unrecognized_keys') {
      for (const key of issue.keys) {
        const full = [path, key].filter(Boolean).join('.');
        lines.push(`${full}: unknown key (not part of the configuration schema${path ? ` under "${path}"` : ''})`);
      }
      continue;
    }
    if (issue.code === 'invalid_type' && issue.received === 'undefined') {
      lines.push(`${path}: missing, expected ${expected(issue)}`);
      continue;
    }
    const value = valueAt(input, issue.path);
    const secret = secretPaths.some((p) => path === p || path.startsWith(p + '.'));
    const got = secret ? `a hidden value (${value === null ? 'null' : Array.isArray(value) ? 'array' : typeof value})` : show(value);
    lines.push(`${path || '(top level)'}: got ${got}, expected ${expected(issue)}`);
  }
  return lines;
}
