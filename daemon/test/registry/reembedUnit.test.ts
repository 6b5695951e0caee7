import { spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, symlinkSync } from 'node:fs';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { testDataDir } from '../../src/system/paths.js';
import { BLINKD, startBlinkd, tempDir } from '../helpers/blinkd.js';

const FACES = join(testDataDir(), 'faces');
const haveData = existsSync(join(FACES, 'amy', 'amy1.png'));
if (!haveData && process.env.CI) throw new Error(`test data missing at ${FACES} (set BLINK_TEST_DATA)`);

const cleanups: Array<() => unknown> = [];
afterEach(async () => {
  for (const c of cleanups.splice(0).reverse()) await c();
});

const base = Object.fromEntries(Object.entries(process.env).filter(([k]) => !k.startsWith('BLINK_')));

function blinkd(dir: string, args: string[], env: Record<string, string> = {}) {
  return spawnSync(process.execPath, [BLINKD, ...args], { cwd: dir, env: { ...base, BLINK_STORE__DATA_DIR: dir, ...env }, encoding: 'utf8', timeout: 120_000 });
}

function identify(dir: string): { decision: string; name: string | null; score: number; model: string } {
  const r = blinkd(dir, ['identify', '--json', join(FACES, 'amy', 'amy4.png')]);
  const out = JSON.parse(r.stdout) as { decision: string; name: string | null; score: number; model: string };
  expect(r.status, r.stderr).toBe(out.decision === 'match' ? 0 : 1); // identify's exit code: 0 match, 1 none
  return out;
}

/** The whole unit: `blinkd enroll` under the old embedder, `blinkd run` under the new one re-embeds in the background and /health shows it. */
describe.runIf(haveData)('a unit switched to another embedder (blinkd run, real models)', () => {
  it('re-embeds the CLI-enrolled person from their chips at start; /health services.reembed reaches done and the person is identified again', async () => {
    const t = tempDir('blink-reembed-unit-');
    cleanups.push(t.cleanup);
    const dir = t.dir;
    const old = blinkd(dir, ['enroll', '--name', 'Amy Farrah', ...['amy1.png', 'amy2.png', 'amy3.png'].map((f) => join(FACES, 'amy', f))], {
      BLINK_VISION__RECOGNITION_MODEL: 'faceapi-resnet',
    });
    expect(old.status, old.stderr).toBe(0);

    // The default embedder (MobileFaceNet-512) has no template of her: not recognised, flagged.
    expect(identify(dir)).toMatchObject({ decision: 'no_match', name: null, model: 'mobilefacenet512-int8' });
    expect(blinkd(dir, ['people', 'list']).stdout).toMatch(/Amy Farrah {2}ACTIVE {2}3 template\(s\) {2}re-enrollment needed/);

    // An empty scene for the camera: the run is about the background work.
    const scene = join(dir, 'scene');
    mkdirSync(scene);
    for (let i = 0; i < 5; i++) symlinkSync(join(FACES, 'no_face', 'human__background.jpg'), join(scene, `${i}.jpg`));
    const d = await startBlinkd(['run'], {
      cwd: dir,
      env: {
        BLINK_STORE__DATA_DIR: dir,
        BLINK_DOOR__DRIVER: 'simulated',
        BLINK_DOOR__SIMULATED_STATE_FILE: join(dir, 'gpio.json'),
        BLINK_CAMERA__SOURCE: `images:${scene}`,
        BLINK_CAMERA__LOOP: 'true',
        BLINK_LOGGING__LEVEL: 'info',
      },
    });
    cleanups.push(() => d.kill());
    const h = await d.waitForHealth((b) => (b.services.reembed as { state?: string } | undefined)?.state === 'done', 90_000, 're-embedding done');
    expect(h.services.reembed).toMatchObject({ status: 'running', model: 'mobilefacenet512-int8', state: 'done', total: 1, done: 1, failed: 0 });
    expect(h.services.registry).toMatchObject({ model: 'mobilefacenet512-int8', searchable: 1, needsReenrollment: 0 });

    // `blinkd enroll` run with the old embedder while the unit runs: the registry reloads, the re-embedder picks her up too.
    const late = blinkd(dir, ['enroll', '--name', 'Biden', join(FACES, 'biden', 'biden.jpg')], { BLINK_VISION__RECOGNITION_MODEL: 'faceapi-resnet' });
    expect(late.status, late.stderr).toBe(0);
    const h2 = await d.waitForHealth((b) => (b.services.registry as { searchable?: number }).searchable === 2, 60_000, 'Biden re-embedded');
    expect(h2.services.reembed).toMatchObject({ state: 'done', total: 1, done: 1, failed: 0 });
    expect(h2.services.registry).toMatchObject({ needsReenrollment: 0 });
    d.child.kill('SIGTERM');
    expect((await d.exited).code).toBe(0);

    const now = identify(dir);
    expect(now, JSON.stringify(now)).toMatchObject({ decision: 'match', name: 'Amy Farrah', model: 'mobilefacenet512-int8' });
    expect(blinkd(dir, ['people', 'list']).stdout).toMatch(/Amy Farrah {2}ACTIVE {2}6 template\(s\)\n/);
  }, 240_000);
});
