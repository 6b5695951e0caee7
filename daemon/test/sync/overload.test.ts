/**
 * Backoff and overload: full-jitter delays with Retry-After as a floor; the server sheds load
 * with 503 + Retry-After (too many requests in progress) and 429 + Retry-After (one device
 * too fast), never 500; the client reads Retry-After and waits at least that long.
 */
import { request } from 'node:http';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { backoffDelay, DEFAULT_BACKOFF, parseRetryAfter } from '../../src/sync/backoff.js';
import { SyncError } from '../../src/sync/client.js';
import { activeUnit, createBackend, signedFetch, startServer, type RunningServer, type TestBackend } from './harness.js';

describe('full-jitter backoff', () => {
  it('stays within [0, min(cap, base·2^(n-1))) and reaches the cap', () => {
    const top = () => 0.999999;
    expect(backoffDelay(1, { ...DEFAULT_BACKOFF, random: top })).toBe(999);
    expect(backoffDelay(2, { ...DEFAULT_BACKOFF, random: top })).toBe(1999);
    expect(backoffDelay(8, { ...DEFAULT_BACKOFF, random: top })).toBe(119_999);
    expect(backoffDelay(50, { ...DEFAULT_BACKOFF, random: top })).toBe(119_999);
    expect(backoffDelay(50, { ...DEFAULT_BACKOFF, random: () => 0 })).toBe(0);
    const samples = Array.from({ length: 2000 }, () => backoffDelay(6));
    expect(Math.max(...samples)).toBeLessThan(32_000);
    expect(Math.min(...samples)).toBeGreaterThanOrEqual(0);
    // Spread, not lock-step: a thousand units retry at well-scattered times.
    expect(new Set(samples.map((s) => Math.floor(s / 1000))).size).toBeGreaterThan(25);
  });

  it('takes Retry-After as a floor, in seconds or as an HTTP date', () => {
    expect(backoffDelay(1, { ...DEFAULT_BACKOFF, random: () => 0 }, 7000)).toBe(7000);
    expect(backoffDelay(9, { ...DEFAULT_BACKOFF, random: () => 0.99 }, 7000)).toBeGreaterThan(7000);
    expect(parseRetryAfter('12')).toBe(12_000);
    expect(parseRetryAfter(new Date(Date.now() + 30_000).toUTCString(), Date.now())).toBeGreaterThan(28_000);
    expect(parseRetryAfter('soon')).toBeNull();
    expect(parseRetryAfter(null)).toBeNull();
  });
});

describe('the server under overload (SQLite)', () => {
  let backend: TestBackend;
  let h: RunningServer;

  beforeAll(async () => {
    backend = await createBackend('sqlite');
    h = await startServer(backend, { limits: { maxInFlight: 2, rateLimitPerMinute: 30, retryAfterSec: 3 } });
    await h.server.ctx.orgs.create('acme', 'Acme');
  });
  afterAll(async () => {
    await h?.close();
    await backend?.dispose();
  });

  it('answers 503 with Retry-After when too many requests are in progress, and never 500', async () => {
    await h.server.ctx.orgs.create('open', 'Legacy', true);
    const body = JSON.stringify([{ id: 'slow-1', person_id: 'p', timestamp: '2025-01-01T00:00:00Z', status: 'CHECK_IN', punctuality: 'ON_TIME' }]);
    const port = Number(new URL(h.url).port);
    // Slow clients: each sends half its body, waits, then the rest, so the requests are in progress together.
    const slowPost = (k: number) =>
      new Promise<{ status: number; retry: string | undefined }>((resolve, reject) => {
        const rows = body.replace('slow-1', `slow-${k}`);
        const req = request(
          {
            host: '127.0.0.1',
            port,
            method: 'POST',
            path: '/o/open/api/v1/sync/attendance',
            headers: { 'content-type': 'application/json', 'content-length': Buffer.byteLength(rows) },
          },
          (res) => {
            res.resume();
            res.on('end', () => resolve({ status: res.statusCode ?? 0, retry: res.headers['retry-after'] as string | undefined }));
          },
        );
        req.on('error', reject);
        req.write(rows.slice(0, 10));
        setTimeout(() => req.end(rows.slice(10)), 400);
      });
    const burst = await Promise.all(Array.from({ length: 8 }, (_, k) => slowPost(k)));
    const statuses = burst.map((r) => r.status);
    expect(statuses.filter((s) => s === 503).length).toBeGreaterThanOrEqual(5); // at most 2 in progress at once
    expect(statuses.every((s) => s === 200 || s === 503)).toBe(true);
    for (const r of burst.filter((x) => x.status === 503)) expect(Number(r.retry)).toBeGreaterThanOrEqual(3);
    // What was answered 200 was stored, what was answered 503 was not: the client retries those.
    expect(await h.server.ctx.attendance.count('open')).toBe(statuses.filter((s) => s === 200).length);
  });

  it('answers 429 with Retry-After to a device over its rate, and the client waits at least that long', async () => {
    const unit = await activeUnit(h.server, h.url, 'acme', 'door-fast');
    let res;
    for (let i = 0; i < 40; i++) {
      res = await signedFetch(h.url, unit, 'GET', '/api/v2/orgs/acme/device');
      if (res.status === 429) break;
    }
    expect(res!.status).toBe(429);
    expect(Number(res!.headers.get('retry-after'))).toBeGreaterThan(0);
    expect(String(res!.body.detail)).toMatch(/too many requests from this device/);
    const err = (await unit.client.deviceInfo().catch((e: unknown) => e)) as SyncError;
    expect(err).toBeInstanceOf(SyncError);
    expect(err.kind).toBe('overloaded');
    expect(err.retryAfterMs).toBeGreaterThan(0);
    expect(unit.client.nextDelay(err)).toBeGreaterThanOrEqual(err.retryAfterMs!);
    // Another device is not affected by this one's rate.
    const other = await activeUnit(h.server, h.url, 'acme', 'door-calm');
    expect((await signedFetch(h.url, other, 'GET', '/api/v2/orgs/acme/device')).status).toBe(200);
  });
});
