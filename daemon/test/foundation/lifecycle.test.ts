import { describe, expect, it } from 'vitest';
import { spawn } from 'node:child_process';
import { readFileSync, writeFileSync } from 'node:fs';
import { availableParallelism } from 'node:os';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { REPO_ROOT, startBlinkd, tempDir } from '../helpers/blinkd.js';
import { Store } from '../../src/store/store.js';

const DIST = join(REPO_ROOT, 'dist', 'daemon', 'src');

function relayPinLevel(stateFile: string): number | undefined {
  return (JSON.parse(readFileSync(stateFile, 'utf8')) as { outputs: Record<string, number> }).outputs['17'];
}

describe('blinkd lifecycle', () => {
  it('serves /health and exits 0 within 5 s of SIGTERM, relay off', async () => {
    const t = tempDir();
    try {
      const gpio = join(t.dir, 'gpio.json');
      const d = await startBlinkd(['run'], {
        cwd: t.dir,
        env: { BLINK_DOOR__DRIVER: 'simulated', BLINK_DOOR__SIMULATED_STATE_FILE: gpio, BLINK_CAMERA__SOURCE: 'images:' + join(t.dir, 'none') },
      });
      await d.waitForHealth();
      const res = await fetch(`${d.url}/health`);
      const body = (await res.json()) as Record<string, unknown>;
      expect(res.status).toBe(200);
      expect(['healthy', 'degraded']).toContain(body.status);
      expect(body.engine).toBeTypeOf('object');
      // the threads per model as run: vision.intraOpThreads auto = 1 below 4 cores, 2 from 4
      expect((body.services as Record<string, { engine?: { intraOpThreads?: number } }>).vision?.engine?.intraOpThreads).toBe(
        availableParallelism() >= 4 ? 2 : 1,
      );
      expect((body.services as Record<string, { status: string }>).door?.status).toBe('running');
      const started = Date.now();
      d.child.kill('SIGTERM');
      const exit = await d.exited;
      expect(exit.code).toBe(0);
      expect(Date.now() - started).toBeLessThan(5000);
      expect(relayPinLevel(gpio)).toBe(0);
    } finally {
      t.cleanup();
    }
  });

  it('refuses to start on an invalid configuration, naming the key (exit 78)', async () => {
    const t = tempDir();
    try {
      const cfg = join(t.dir, 'bad.yaml');
      writeFileSync(cfg, 'door:\n  relayActiveLow: maybe\n');
      const d = await startBlinkd(['run', '--config', cfg], { cwd: t.dir });
      const exit = await d.exited;
      expect(exit.code).toBe(78);
      expect(d.stderr.join('')).toContain('door.relayActiveLow: got "maybe" (string), expected a boolean');
    } finally {
      t.cleanup();
    }
  });

  it('on an uncaught error: logs, turns the relay off and exits non-zero', async () => {
    const t = tempDir();
    try {
      const gpio = join(t.dir, 'gpio.json');
      // A child running the real Controller and process handlers; it energizes the relay, then throws from a timer.
      const script = `
        const { Controller } = await import(${JSON.stringify(pathToFileURL(join(DIST, 'controller.js')).href)});
        const { buildUnit } = await import(${JSON.stringify(pathToFileURL(join(DIST, 'compositionRoot.js')).href)});
        const { parseConfig } = await import(${JSON.stringify(pathToFileURL(join(DIST, 'config', 'load.js')).href)});
        const { createLogger } = await import(${JSON.stringify(pathToFileURL(join(DIST, 'logging.js')).href)});
        const { installProcessHandlers } = await import(${JSON.stringify(pathToFileURL(join(DIST, 'system', 'lifecycle.js')).href)});
        const config = parseConfig({ admin: { enabled: false }, door: { driver: 'simulated', simulatedStateFile: ${JSON.stringify(gpio)} }, store: { dataDir: ${JSON.stringify(t.dir)} } }, 'test');
        const log = createLogger('info');
        const unit = buildUnit(config, log, { runtime: 'none' });
        const c = new Controller(unit, log);
        installProcessHandlers(c, log);
        await c.start();
        unit.door.pulse('test', 60000);
        console.log(JSON.stringify({ msg: 'relay energized' }));
        setTimeout(() => { throw new Error('boom from a timer'); }, 50);
      `;
      const child = spawn(process.execPath, ['--input-type=module', '-e', script], { stdio: ['ignore', 'pipe', 'pipe'] });
      let out = '';
      child.stdout.on('data', (c: Buffer) => (out += c.toString()));
      const code = await new Promise<number | null>((r) => child.on('exit', (c) => r(c)));
      expect(out).toContain('relay energized');
      expect(code).toBe(1);
      const fatal = out
        .split('\n')
        .filter(Boolean)
        .map((l) => JSON.parse(l) as Record<string, unknown>)
        .find((l) => l.level === 'fatal');
      expect(fatal?.relay).toBe('off');
      expect(JSON.stringify(fatal?.err)).toContain('boom from a timer');
      expect(relayPinLevel(gpio)).toBe(0);
    } finally {
      t.cleanup();
    }
  });

  it('loses no access event it reported written when SIGKILLed mid-way through 1,000', async () => {
    const t = tempDir();
    try {
      const dbFile = join(t.dir, 'blink.db');
      const script = `
        const { Store } = await import(${JSON.stringify(pathToFileURL(join(DIST, 'store', 'store.js')).href)});
        const s = Store.open(${JSON.stringify(dbFile)});
        for (let i = 0; i < 1000; i++) {
          const e = s.events.insert({ result: i % 3 ? 'DENIED' : 'GRANTED', reason: i % 3 ? 'unknown' : 'match', score: i / 1000, details: { i } });
          process.stdout.write(e.id + '\\n');
        }
        process.stdout.write('done\\n');
      `;
      const child = spawn(process.execPath, ['--input-type=module', '-e', script], { stdio: ['ignore', 'pipe', 'pipe'] });
      const reported: string[] = [];
      let buf = '';
      await new Promise<void>((resolve) => {
        child.stdout.on('data', (c: Buffer) => {
          buf += c.toString();
          const parts = buf.split('\n');
          buf = parts.pop() ?? '';
          for (const p of parts) if (p && p !== 'done') reported.push(p);
          if (reported.length >= 300 && !child.killed) child.kill('SIGKILL');
        });
        child.on('exit', () => resolve());
      });
      expect(reported.length).toBeGreaterThanOrEqual(300);
      expect(reported.length).toBeLessThan(1000); // killed mid-way, not after the end
      const s = Store.open(dbFile);
      try {
        const stored = new Set(s.events.query({ limit: 10_000 }).map((e) => e.id));
        const lost = reported.filter((id) => !stored.has(id));
        expect(lost).toEqual([]);
        expect(stored.size).toBeGreaterThanOrEqual(reported.length);
      } finally {
        s.close();
      }
    } finally {
      t.cleanup();
    }
  });
});
