import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';

export const REPO_ROOT = resolve(import.meta.dirname, '..', '..', '..');
export const BLINKD = join(REPO_ROOT, 'daemon', 'bin', 'blinkd.js');

export function tempDir(prefix = 'blink-test-'): { dir: string; cleanup: () => void } {
  const dir = mkdtempSync(join(tmpdir(), prefix));
  // Retries (ENOTEMPTY and the like) cover a helper process that is still writing its last file as
  // it goes; a daemon's own door controller is waited for by RunningBlinkd.kill().
  return { dir, cleanup: () => rmSync(dir, { recursive: true, force: true, maxRetries: 5, retryDelay: 50 }) };
}

/** A TCP port that was free a moment ago (for a child process that must listen where the test can find it). */
export function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const srv = createServer();
    srv.once('error', reject);
    srv.listen(0, '127.0.0.1', () => {
      const port = (srv.address() as { port: number }).port;
      srv.close(() => resolve(port));
    });
  });
}

export type HealthBody = Record<string, unknown> & {
  status: string;
  alarms: Array<{ type: string; since: string; reason: string }>;
  services: Record<string, Record<string, unknown> & { status: string }>;
};

/** GET /health of a unit, or null while it does not answer. */
export async function health(url: string, timeoutMs?: number): Promise<HealthBody | null> {
  try {
    const res = await fetch(`${url}/health`, timeoutMs === undefined ? {} : { signal: AbortSignal.timeout(timeoutMs) });
    return (await res.json()) as HealthBody;
  } catch {
    return null;
  }
}

/** Polls /health until `pred` holds (default: it answers at all); the unit's state, not its log wording. */
export async function waitForHealth(
  url: string,
  pred: (h: HealthBody) => boolean = () => true,
  timeoutMs = 20_000,
  what = 'the expected health',
): Promise<HealthBody> {
  const deadline = Date.now() + timeoutMs;
  let last: HealthBody | null = null;
  while (Date.now() < deadline) {
    last = await health(url);
    if (last && pred(last)) return last;
    await new Promise((r) => setTimeout(r, 100));
  }
  throw new Error(`${what} not seen within ${timeoutMs} ms at ${url}/health; last: ${JSON.stringify(last)?.slice(0, 1500)}`);
}

export interface RunningBlinkd {
  child: ChildProcess;
  /** http://127.0.0.1:PORT of the unit's admin and /health. */
  url: string;
  /** Resolves once /health answers (every service started) and `pred` holds. */
  waitForHealth(pred?: (h: HealthBody) => boolean, timeoutMs?: number, what?: string): Promise<HealthBody>;
  lines: Array<Record<string, unknown>>;
  stderr: string[];
  exited: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
  /**
   * SIGKILLs the daemon and resolves once it and its door controller process are both gone.
   * The controller outlives a killed daemon by a moment: it notices the lost IPC channel, turns
   * the relay off and (simulated driver) writes its state file into the data directory. A test
   * that removed that directory straight after `child.kill()` raced this write (ENOTEMPTY).
   */
  kill(): Promise<void>;
}

/** Whether `pid` still runs. A zombie counts as gone: an orphan's reaper (PID 1 in a container) may never reap it. */
function alive(pid: number): boolean {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    return stat.slice(stat.lastIndexOf(')') + 2, stat.lastIndexOf(')') + 3) !== 'Z';
  } catch {
    return false;
  }
}

/** The door controller's pid as /health reports it, when the door runs in its own process. */
function controllerPid(h: HealthBody | null): number | null {
  const controller = h?.services?.door?.controller as { pid?: unknown } | undefined;
  return typeof controller?.pid === 'number' ? controller.pid : null;
}

/** Starts `blinkd <args>` (compiled) with a clean BLINK_* environment plus `env`, in `cwd`, its admin on a free port. */
export async function startBlinkd(args: string[], options: { cwd: string; env?: Record<string, string> }): Promise<RunningBlinkd> {
  const baseEnv = Object.fromEntries(Object.entries(process.env).filter(([k]) => !k.startsWith('BLINK_') || k === 'BLINK_TEST_DATA'));
  const port = options.env?.BLINK_ADMIN__PORT ?? String(await freePort());
  const url = `http://127.0.0.1:${port}`;
  const child = spawn(process.execPath, [BLINKD, ...args], {
    cwd: options.cwd,
    env: { ...baseEnv, BLINK_LOGGING__LEVEL: 'debug', ...options.env, BLINK_ADMIN__PORT: port },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  const lines: Array<Record<string, unknown>> = [];
  const stderr: string[] = [];
  let buf = '';
  child.stdout!.setEncoding('utf8').on('data', (chunk: string) => {
    buf += chunk;
    let nl: number;
    while ((nl = buf.indexOf('\n')) >= 0) {
      const text = buf.slice(0, nl);
      buf = buf.slice(nl + 1);
      let line: Record<string, unknown>;
      try {
        line = JSON.parse(text) as Record<string, unknown>;
      } catch {
        line = { raw: text };
      }
      lines.push(line);
    }
  });
  child.stderr!.setEncoding('utf8').on('data', (c: string) => stderr.push(c));
  const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((res) => child.on('exit', (code, signal) => res({ code, signal })));
  const controllers = new Set<number>();
  const seen = (h: HealthBody): HealthBody => {
    const pid = controllerPid(h);
    if (pid !== null) controllers.add(pid);
    return h;
  };
  const kill = async (): Promise<void> => {
    if (child.exitCode === null && child.signalCode === null) {
      // Learn the current controller (it may have been restarted since the last health read).
      const pid = controllerPid(await health(url, 2000));
      if (pid !== null) controllers.add(pid);
      child.kill('SIGKILL');
    }
    await exited;
    const deadline = Date.now() + 10_000;
    for (const pid of controllers) {
      while (alive(pid)) {
        if (Date.now() > deadline) throw new Error(`door controller ${pid} still running 10 s after its daemon was killed`);
        await new Promise((r) => setTimeout(r, 10));
      }
    }
  };
  return {
    child,
    url,
    kill,
    waitForHealth: (pred, timeoutMs = 60_000, what) =>
      Promise.race([
        waitForHealth(url, pred, timeoutMs, what).then(seen),
        exited.then((e) => {
          throw new Error(`blinkd exited (${e.code ?? e.signal}) before ${what ?? 'health'}; stderr: ${stderr.join('').slice(-2000)}`);
        }),
      ]),
    lines,
    stderr,
    exited,
  };
}
