import { copyFileSync, existsSync, readFileSync } from 'node:fs';
import { basename, join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { testDataDir } from '../../src/system/paths.js';
import { tempDir } from '../helpers/blinkd.js';
import { Client, startAdmin, type Harness } from './adminHarness.js';

const FACES = join(testDataDir(), 'faces');
const haveData = existsSync(join(FACES, 'howard', 'howard2.png')) && existsSync(join(FACES, 'amy', 'amy1.png'));
if (!haveData && process.env.CI) throw new Error(`test data missing at ${FACES} (set BLINK_TEST_DATA)`);

const PASSWORD = 'correct horse battery';

function form(field: string, ...paths: string[]): FormData {
  const f = new FormData();
  for (const p of paths) f.append(field, new Blob([readFileSync(join(FACES, p))]), basename(p));
  return f;
}

/**
 * Every state-changing route, run for real (door camera playing a photo, real vision models),
 * leaves an audit entry naming the signed-in actor. The list of routes is checked against the
 * server's own route table, so a new mutating route without an entry here fails this test.
 */
describe.runIf(haveData)('admin security: every change is audited with its actor', () => {
  let h: Harness;
  let c: Client;
  const camDir = tempDir('blink-cam-');
  const exercised = new Set<string>();

  const auditSince = (id: number) =>
    h.unit.store.db.prepare('SELECT actor, action, target FROM audit_log WHERE id > ? ORDER BY id').all(id) as Array<{
      actor: string;
      action: string;
      target: string | null;
    }>;
  const lastAuditId = () => (h.unit.store.db.prepare('SELECT coalesce(max(id), 0) AS n FROM audit_log').get() as { n: number }).n;

  /** Runs one route and expects 2xx and an audit row by `actor` with `action`. */
  async function expectAudited(
    method: string,
    pattern: string,
    url: string,
    body: unknown,
    action: string,
    actor = 'admin:facilities',
    client = c,
  ): Promise<Record<string, unknown>> {
    const from = lastAuditId();
    const r = await client.req(method, url, body);
    expect(r.status, `${method} ${url}: ${r.text}`).toBeLessThan(300);
    expect(
      auditSince(from).map((e) => `${e.actor} ${e.action}`),
      `${method} ${pattern}`,
    ).toContain(`${actor} ${action}`);
    exercised.add(`${method} ${pattern}`);
    return r.json;
  }

  beforeAll(async () => {
    copyFileSync(join(FACES, 'howard', 'howard2.png'), join(camDir.dir, 'howard2.png'));
    h = await startAdmin({ camera: { source: `images:${camDir.dir}`, fps: 5 } }, { runtime: 'camera' });
    c = new Client(h.url);
  });
  afterAll(async () => {
    await h?.close();
    camDir.cleanup();
  });

  it('audits every mutating route', async () => {
    await expectAudited(
      'POST',
      '/api/v1/auth/setup',
      '/api/v1/auth/setup',
      { token: h.setupToken(), username: 'facilities', password: PASSWORD },
      'admin.setup',
    );
    await expectAudited('POST', '/api/v1/auth/login', '/api/v1/auth/login', { username: 'facilities', password: PASSWORD }, 'admin.login');
    const user = await expectAudited(
      'POST',
      '/api/v1/users',
      '/api/v1/users',
      { username: 'temp', password: 'short lived account', role: 'viewer' },
      'admin.user_created',
    );
    await expectAudited('DELETE', '/api/v1/users/:id', `/api/v1/users/${String(user.id)}`, undefined, 'admin.user_deleted');
    await expectAudited('POST', '/api/v1/door/unlock', '/api/v1/door/unlock', {}, 'command.unlock');
    await expectAudited('POST', '/api/v1/door/lockdown', '/api/v1/door/lockdown', { on: false }, 'command.lockdown');
    await expectAudited('POST', '/api/v1/door/held-unlocked', '/api/v1/door/held-unlocked', { on: false }, 'command.held_unlocked');
    await expectAudited('PUT', '/api/v1/settings', '/api/v1/settings', { changes: { 'access.threshold': 0.9 } }, 'settings.changed');
    const amy = await expectAudited(
      'POST',
      '/api/v1/people',
      '/api/v1/people',
      (() => {
        const f = form('photos', 'amy/amy1.png');
        f.set('name', 'Amy Farrah');
        return f;
      })(),
      'person.enrolled',
    );
    const amyId = (amy.person as { id: string }).id;
    await expectAudited('POST', '/api/v1/people/:id/photos', `/api/v1/people/${amyId}/photos`, form('photos', 'amy/amy2.png'), 'person.templates_added');
    await expectAudited('PATCH', '/api/v1/people/:id', `/api/v1/people/${amyId}`, { notes: 'night shift' }, 'person.updated');
    await expectAudited('POST', '/api/v1/embeddings', '/api/v1/embeddings', form('image', 'amy/amy3.png'), 'vision.embedding');
    for (let i = 0; i < 50 && (await c.req('GET', '/api/v1/live/frame')).status !== 200; i++) await new Promise((r) => setTimeout(r, 100));
    const cap = await expectAudited('POST', '/api/v1/live/capture', '/api/v1/live/capture', {}, 'live.capture');
    await expectAudited(
      'POST',
      '/api/v1/people/from-camera',
      '/api/v1/people/from-camera',
      { name: 'Howard Wolowitz', captures: [cap.captureId] },
      'person.enrolled',
    );
    await expectAudited('DELETE', '/api/v1/people/:id', `/api/v1/people/${amyId}`, undefined, 'person.deleted');
    await expectAudited(
      'POST',
      '/api/v1/auth/password',
      '/api/v1/auth/password',
      { currentPassword: PASSWORD, newPassword: 'an even better password' },
      'admin.password_changed',
    );
    await expectAudited('POST', '/api/v1/auth/logout', '/api/v1/auth/logout', {}, 'admin.logout');

    // Every mutating route of the server was exercised above.
    const tree = h.unit.http.instance()!.printRoutes({ commonPrefix: false });
    const stack: string[] = [];
    const mutating: string[] = [];
    for (const line of tree.split('\n')) {
      const m = /^([│ ├└─]*)(\S.*?) \(([A-Z, ]+)\)$/.exec(line);
      if (!m) continue;
      stack.length = m[1]!.length / 4;
      stack.push(m[2]!);
      for (const method of m[3]!.split(', ')) if (!['GET', 'HEAD', 'OPTIONS'].includes(method)) mutating.push(`${method} ${stack.join('')}`);
    }
    expect(mutating.length).toBeGreaterThan(15);
    expect([...exercised].sort()).toEqual(mutating.sort());
  }, 120_000);
});
