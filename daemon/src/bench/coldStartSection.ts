/**
 * `npm run bench -- --only cold-start`: `cold_start_ms`, from spawning `blinkd run` (the dist
 * build, simulated GPIO, the replayed test video as the camera) to its `ready` log line — the
 * moment it sends READY=1 to systemd: models loaded, the gallery built, the door up, HTTP
 * serving, the camera's first frame in — with 10k people (two templates each, of the running
 * embedder) in a real SQLite database. Three runs; the first pays for a cold page cache.
 */
import { spawn, spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { Store } from '../store/store.js';
import { testDataDir } from '../system/paths.js';
import { round2 } from '../util/stats.js';
import { clusteredGallery, lfwEmbeddings, seedGallery } from './galleryData.js';
import type { BenchContext, BenchResult, BenchSection } from './main.js';
import { freePort } from './freePort.js';

const PEOPLE = 10_000;

const RUNS = 3;

/** Spawns blinkd on the data dir; resolves with the milliseconds to its `ready` line and the phases it logged. */
function timeToReady(ctx: BenchContext, dir: string, video: string, port: number): Promise<{ ms: number; phases: Record<string, number> }> {
  const env = Object.fromEntries(Object.entries(process.env).filter(([k]) => !k.startsWith('BLINK_') || k === 'BLINK_TEST_DATA'));
  const t0 = performance.now();
  const p = spawn(process.execPath, [join(ctx.repoRoot, 'daemon', 'bin', 'blinkd.js'), 'run'], {
    cwd: dir,
    stdio: ['ignore', 'pipe', 'ignore'],
    env: {
      ...env,
      BLINK_STORE__DATA_DIR: dir,
      BLINK_ADMIN__PORT: String(port),
      BLINK_UNIT__ID: 'bench',
      BLINK_DOOR__DRIVER: 'simulated',
      BLINK_DOOR__SIMULATED_STATE_FILE: join(dir, 'gpio.json'),
      BLINK_CAMERA__SOURCE: `file:${video}`,
      BLINK_LOGGING__LEVEL: 'info',
    },
  });
  return new Promise((resolve, reject) => {
    const phases: Record<string, number> = {};
    const timer = setTimeout(() => {
      p.kill('SIGKILL');
      reject(new Error('blinkd did not log ready within 60 s'));
    }, 60_000);
    const lines = createInterface({ input: p.stdout! });
    lines.on('line', (line) => {
      let msg = '';
      try {
        msg = String((JSON.parse(line) as { msg?: unknown }).msg ?? '');
      } catch {
        return;
      }
      const at = performance.now() - t0;
      if (/started|loaded|ready/.test(msg)) phases[msg] ??= round2(at);
      if (msg === 'ready') {
        clearTimeout(timer);
        p.once('exit', () => resolve({ ms: at, phases }));
        p.kill('SIGTERM');
      }
    });
    p.once('exit', (code) => {
      clearTimeout(timer);
      if (!('ready' in phases)) reject(new Error(`blinkd exited (${code}) before ready`));
    });
  });
}

export const coldStartSection: BenchSection = {
  name: 'cold-start',
  async run(ctx: BenchContext): Promise<BenchResult> {
    const video = join(testDataDir(), 'video', 'focus_mahie_test_1.avi');
    if (!existsSync(video)) throw new Error(`the cold-start bench needs ${video} (BLINK_TEST_DATA)`);
    // Without ffmpeg the replayed camera never delivers a frame and READY waits out its 20 s
    // camera timeout: a number, but not a cold start.
    if (spawnSync('ffmpeg', ['-version'], { stdio: 'ignore' }).status !== 0)
      throw new Error('the cold-start bench needs ffmpeg (the replayed camera decodes with it): bash scripts/system-packages.sh test');
    const real = await lfwEmbeddings(200);
    const dir = mkdtempSync(join(tmpdir(), 'blink-bench-coldstart-'));
    try {
      const store = Store.open(join(dir, 'blink.db'));
      seedGallery(store, real.modelId, clusteredGallery(real, PEOPLE, 2));
      store.close();
      const runs: number[] = [];
      let phases: Record<string, number> = {};
      for (let i = 0; i < RUNS; i++) {
        const r = await timeToReady(ctx, dir, video, await freePort());
        runs.push(r.ms);
        phases = r.phases;
        ctx.log(`cold-start: run ${i + 1}: ${r.ms.toFixed(0)} ms ${JSON.stringify(r.phases)}`);
      }
      const sorted = [...runs].sort((a, b) => a - b);
      return {
        cold_start_people: PEOPLE,
        cold_start_templates: PEOPLE * 2,
        cold_start_ms: round2(sorted[Math.floor(sorted.length / 2)]!),
        cold_start_first_run_ms: round2(runs[0]!),
        cold_start_phases: JSON.stringify(phases),
      };
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  },
};
