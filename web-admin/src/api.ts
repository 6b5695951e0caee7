/// <reference lib="dom" />
import type { MeJson } from '../../daemon/src/admin/apiTypes.js';

/** The admin API client: JSON in and out, the session cookie sent by the browser, the CSRF token in a header. */

export class ApiError extends Error {
  constructor(
    readonly status: number,
    readonly code: string,
    message: string,
    readonly body: Record<string, unknown> = {},
  ) {
    super(message);
  }
}

export type Me = MeJson;

let csrf = '';
let onUnauthenticated: () => void = () => {};

export function setCsrf(token: string | null): void {
  csrf = token ?? '';
}

export function whenSignedOut(fn: () => void): void {
  onUnauthenticated = fn;
}

export async function api<T = Record<string, unknown>>(method: string, path: string, body?: unknown): Promise<T> {
  const headers: Record<string, string> = { accept: 'application/json' };
  if (method !== 'GET') headers['x-csrf-token'] = csrf;
  let payload: BodyInit | undefined;
  if (body instanceof FormData) payload = body;
  else if (body !== undefined) {
    headers['content-type'] = 'application/json';
    payload = JSON.stringify(body);
  }
  let res: Response;
  try {
    res = await fetch('/api/v1' + path, { method, headers, body: payload, credentials: 'same-origin' });
  } catch {
    throw new ApiError(0, 'network', 'cannot reach the unit: check the network connection');
  }
  const text = await res.text();
  let json: Record<string, unknown> = {};
  try {
    json = text ? (JSON.parse(text) as Record<string, unknown>) : {};
  } catch {
    /* not JSON */
  }
  if (!res.ok) {
    if (res.status === 401 && !path.startsWith('/auth/')) onUnauthenticated();
    throw new ApiError(res.status, String(json.error ?? res.status), String(json.message ?? `request failed (${res.status})`), json);
  }
  return json as T;
}

export const get = <T = Record<string, unknown>>(path: string) => api<T>('GET', path);
