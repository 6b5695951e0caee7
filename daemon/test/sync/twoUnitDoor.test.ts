/**
 * Issue 12, "Must show", end to end with real processes: a sync server (`blinkd sync-server`, its
 * organisation and claim codes created with its operator commands) and two door units (`blinkd
 * run`, real vision pipeline, simulated relay, sync on), each fed a looping replay of photos.
 *
 * - A person enrolled from photos on unit A (`blinkd enroll` against A's data directory) is
 *   denied on unit B while B has never heard of them, and granted by B after sync: the access
 *   event names that person and B's relay pulses; no restart of B in between (the gallery
 *   refreshes from the pull).
 * - Deactivated on B through B's admin API: unit A, which was granting them, denies them as
 *   deactivated after sync, and its relay pulses no more.
 *
 * Liveness: the replay is of still photos, so the blink policy (which stops still photos by
 * design, see access/endToEnd.test.ts) is switched off on both units; what is under test here is
 * the path enrollment → sync → another unit's decision. Compiled: run `npm run build` first.
 */
import { spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, readFileSync, symlinkSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { EventBus } from '../../src/events.js';
import { createLogger } from '../../src/logging.js';
import { PeopleRegistry } from '../../src/registry/peopleRegistry.js';
import type { AccessEvent } from '../../src/store/eventsRepo.js';
import { Store } from '../../src/store/store.js';
import { testDataDir } from '../../src/system/paths.js';
import { Client } from '../admin/adminHarness.js';
import { BLINKD, startBlinkd, tempDir, type HealthBody, type RunningBlinkd } from '../helpers/blinkd.js';
import { createBackend, PASSPHRASE, startChildServer, type ChildServer, type TestBackend } from './harness.js';

const DATA = testDataDir();
const FACES = join(DATA, 'faces');
const PERSON = join(FACES, 'john_salley');
// Enrolled from four photos; the replay shows the other four (held out), so B matches photos it never saw.
const ENROLL = ['000179_02159509.jpg', '000183_02159543.jpg', '000186_02159346.jpg', '000189_02159361.jpg'];
const REPLAY = ['000190_02159501.jpg', '000192_02159531.jpg', '000194_02159572.jpg', '000197_02159322.jpg'];
const EMPTY = join(FACES, 'no_face', 'human__background.jpg');
const haveData = [...ENROLL, ...REPLAY].every((f) => existsSync(join(PERSON, f))) && existsSync(EMPTY);
if (!haveData && process.env.CI) throw new Error(`shared test data missing at ${DATA}`);

const ORG = 'acme';
const FPS = 5;
const base = Object.fromEntries(Object.entries(process.env).filter(([k]) => !k.startsWith('BLINK_') && k !== 'DATABASE_URL'));

function cli(args: string[], env: Record<string, string> = {}): { status: number | null; stdout: string; stderr: string } {
  return spawnSync(process.execPath, [BLINKD, ...args], { env: { ...base, ...env }, encoding: 'utf8', timeout: 120_000 });
}

/** The operator's `blinkd sync-server …` commands against the server's SQLite fallback file. */
function operator(backend: TestBackend, ...args: string[]): string {
  const r = cli(['sync-server', ...args, '--data', backend.dataDir]);
  if (r.status !== 0) throw new Error(`blinkd sync-server ${args.join(' ')} exited ${r.status}: ${r.stderr}`);
  return r.stdout;
}

/** A looping replay: each held-out photo for a moment, then an empty scene long enough to end the track. */
function replayDir(dir: string): string {
  const seq = join(dir, 'replay');
  mkdirSync(seq);
  let n = 0;
  const add = (file: string, frames: number) => {
    for (let i = 0; i < frames; i++) symlinkSync(file, join(seq, `${String(n++).padStart(4, '0')}${file.slice(file.lastIndexOf('.'))}`));
  };
  for (const f of REPLAY) add(join(PERSON, f), 2);
  add(EMPTY, 3 * FPS);
  return seq;
}

function decisions(dir: string): AccessEvent[] {
  const s = Store.open(join(dir, 'blink.db'));
  try {
    return s.events.query({ limit: 500 }).reverse();
  } finally {
    s.close();
  }
}

async function waitForDecision(dir: string, what: string, pred: (e: AccessEvent) => boolean, timeoutMs = 40_000): Promise<AccessEvent> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const hit = decisions(dir).find(pred);
    if (hit) return hit;
    if (Date.now() > deadline)
      throw new Error(
        `${what} not recorded within ${timeoutMs} ms in ${dir}; got ${JSON.stringify(decisions(dir).map((e) => [e.result, e.reason, e.personId]))}`,
      );
    await new Promise((r) => setTimeout(r, 250));
  }
}

function relayPulses(stateFile: string): number {
  if (!existsSync(stateFile)) return 0;
  const s = JSON.parse(readFileSync(stateFile, 'utf8')) as { writes: Array<{ pin: number; level: number }> };
  return s.writes.filter((w) => w.pin === 17 && w.level === 1).length;
}

type SyncHealth = { lastSuccessAt: string | null; lastError: unknown; device: string; pending: { people: number }; pulled: { people: number } };
const syncOf = (h: HealthBody) => h.services.sync as unknown as SyncHealth;

describe.runIf(haveData)('two door units and a sync server, end to end (real processes, real photos)', () => {
  let backend: TestBackend | null = null;
  let server: ChildServer | null = null;
  const units: RunningBlinkd[] = [];
  const dirs: Array<() => void> = [];
  afterAll(async () => {
    for (const u of units) {
      if (u.child.exitCode === null && u.child.signalCode === null) {
        u.child.kill('SIGTERM');
        await u.exited;
      }
    }
    await server?.kill();
    await backend?.dispose();
    for (const c of dirs) c();
  });

  it('enrolled from photos on A, B grants that person after sync; deactivated on B, A denies them after sync', async () => {
    backend = await createBackend('sqlite');
    // The operator sets up the organisation and one claim code per unit.
    expect(operator(backend, 'orgs', 'create', ORG, '--name', 'Acme')).toMatch(/created organisation acme/);
    const codes = (JSON.parse(operator(backend, 'claims', 'create', '--org', ORG, '--count', '2', '--json')) as Array<{ code: string }>).map((c) => c.code);
    expect(codes).toHaveLength(2);
    server = await startChildServer(backend);

    const unit = (name: string, code: string) => {
      const t = tempDir(`blink-door-${name}-`);
      dirs.push(t.cleanup);
      const passphraseFile = join(t.dir, 'org-passphrase');
      writeFileSync(passphraseFile, PASSPHRASE + '\n', { mode: 0o600 });
      const env: Record<string, string> = {
        BLINK_UNIT__ID: `door-${name}`,
        BLINK_STORE__DATA_DIR: t.dir,
        BLINK_DOOR__DRIVER: 'simulated',
        BLINK_DOOR__SIMULATED_STATE_FILE: join(t.dir, 'gpio.json'),
        BLINK_CAMERA__SOURCE: `images:${replayDir(t.dir)}`,
        BLINK_CAMERA__FPS: String(FPS),
        BLINK_CAMERA__LOOP: 'true',
        BLINK_ACCESS__LIVENESS__BLINK: 'false',
        BLINK_ACCESS__LIVENESS__PASSIVE: 'false',
        BLINK_ACCESS__LIVENESS__PAD: 'false',
        BLINK_SYNC__ENABLED: 'true',
        BLINK_SYNC__SERVER_URL: server!.url,
        BLINK_SYNC__ORG: ORG,
        BLINK_SYNC__PASSPHRASE_FILE: passphraseFile,
        BLINK_SYNC__CLAIM_CODE: code,
        BLINK_SYNC__INTERVAL_SEC: '5',
        BLINK_SYNC__BACKOFF_BASE_MS: '200',
        BLINK_SYNC__BACKOFF_CAP_MS: '2000',
        BLINK_LOGGING__LEVEL: 'info',
      };
      return { dir: t.dir, env, gpio: join(t.dir, 'gpio.json') };
    };
    const a = unit('a', codes[0]!);
    const b = unit('b', codes[1]!);

    // Enrolled on A from four photos, as an installer does.
    const enrolled = cli(['enroll', '--name', 'John Salley', ...ENROLL.map((f) => join(PERSON, f))], a.env);
    expect(enrolled.status, enrolled.stderr).toBe(0);
    const s = Store.open(join(a.dir, 'blink.db'));
    const personId = new PeopleRegistry(s, s.audit, new EventBus(), createLogger('silent')).list({ search: 'John Salley' })[0]!.id;
    s.close();

    const unitA = await startBlinkd(['run'], { cwd: a.dir, env: a.env });
    units.push(unitA);
    const unitB = await startBlinkd(['run'], { cwd: b.dir, env: b.env });
    units.push(unitB);

    // A pushes them (its first start with sync on queues every person); both units registered with their codes.
    await unitA.waitForHealth(
      (h) => !!h.services.sync && syncOf(h).lastSuccessAt !== null && syncOf(h).pending.people === 0,
      40_000,
      'A synced with the person pushed',
    );
    await unitB.waitForHealth((h) => !!h.services.sync && syncOf(h).pulled.people >= 1, 40_000, 'B pulled the person');

    // B, replaying that person all along, grants them: the event names them and the relay pulses.
    const grantedOnB = await waitForDecision(b.dir, 'a grant on B', (e) => e.result === 'GRANTED');
    expect(grantedOnB).toMatchObject({ result: 'GRANTED', reason: 'match', personId, personName: 'John Salley', source: 'camera' });
    await expect.poll(() => relayPulses(b.gpio), { timeout: 5000 }).toBeGreaterThanOrEqual(1);
    // Everything B decided before its grant: that person unknown to it (never a grant of anyone else).
    for (const e of decisions(b.dir).filter((x) => x.seq < grantedOnB.seq)) expect(e).toMatchObject({ result: 'DENIED', personId: null });

    // A grants them too (its own enrollment).
    await waitForDecision(a.dir, 'a grant on A', (e) => e.result === 'GRANTED' && e.personId === personId);
    expect(relayPulses(a.gpio)).toBeGreaterThanOrEqual(1);

    // Deactivated on B by an administrator in B's web admin.
    const admin = new Client(unitB.url);
    expect(await admin.setup(readFileSync(join(b.dir, 'admin-setup-token'), 'utf8').trim())).toBe(200);
    const patched = await admin.req('PATCH', `/api/v1/people/${personId}`, { status: 'DEACTIVATED' });
    expect(patched.status, patched.text).toBe(200);

    // A, still replaying them, denies them as deactivated once the change has come through the server.
    const deniedOnA = await waitForDecision(a.dir, 'a deactivated denial on A', (e) => e.reason === 'deactivated');
    expect(deniedOnA).toMatchObject({ result: 'DENIED', reason: 'deactivated', personId });
    const pulses = relayPulses(a.gpio);
    // Two more rounds of the replay: no grant after the denial, no more pulses.
    await waitForDecision(a.dir, 'a second decision on A after the denial', (e) => e.seq > deniedOnA.seq, 20_000);
    expect(decisions(a.dir).filter((e) => e.seq > deniedOnA.seq && e.result === 'GRANTED')).toEqual([]);
    expect(relayPulses(a.gpio)).toBe(pulses);

    for (const u of units) {
      u.child.kill('SIGTERM');
      expect((await u.exited).code).toBe(0);
    }
  }, 120_000);
});
