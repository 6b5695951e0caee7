import { readFileSync, statSync } from 'node:fs';
import { request } from 'node:https';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startAdmin, type Harness } from './adminHarness.js';
import { loadTls } from '../../src/admin/tls.js';

function post(
  url: string,
  ca: Buffer,
  path: string,
  body: unknown,
): Promise<{ status: number; headers: Record<string, string | string[] | undefined>; body: string }> {
  return new Promise((resolve, reject) => {
    const data = JSON.stringify(body);
    const req = request(
      url + path,
      { method: 'POST', ca, headers: { 'content-type': 'application/json', 'content-length': Buffer.byteLength(data) } },
      (res) => {
        let text = '';
        res
          .setEncoding('utf8')
          .on('data', (c: string) => (text += c))
          .on('end', () => resolve({ status: res.statusCode ?? 0, headers: res.headers, body: text }));
      },
    );
    req.on('error', reject);
    req.end(data);
  });
}

describe('admin over TLS with a self-signed certificate', () => {
  let h: Harness;
  beforeAll(async () => {
    h = await startAdmin({ admin: { tls: { mode: 'self-signed' } } });
  });
  afterAll(async () => h?.close());

  it('generates the certificate once in the data dir and serves HTTPS with Secure cookies and HSTS', async () => {
    expect(h.url).toMatch(/^https:\/\/127\.0\.0\.1:\d+$/);
    const crt = join(h.dataDir, 'tls', 'admin.crt');
    const key = join(h.dataDir, 'tls', 'admin.key');
    expect(statSync(key).mode & 0o777).toBe(0o600);
    const ca = readFileSync(crt);
    // The certificate is valid for 127.0.0.1 (verified against itself as the CA).
    const r = await post(h.url, ca, '/api/v1/auth/setup', { token: h.setupToken(), username: 'facilities', password: 'correct horse battery' });
    expect(r.status, r.body).toBe(200);
    const cookie = String(r.headers['set-cookie']);
    expect(cookie).toMatch(/blink_session=.+; Max-Age=43200; Path=\/; HttpOnly; Secure; SameSite=Strict/);
    expect(r.headers['strict-transport-security']).toBe('max-age=31536000');
    expect((h.admin.health() as { tls: boolean }).tls).toBe(true);
    // A restart reuses the pair instead of making a new one (browsers keep trusting it).
    const again = loadTls(h.config, { info: () => {} });
    expect(again?.cert.equals(ca)).toBe(true);
  });
});
