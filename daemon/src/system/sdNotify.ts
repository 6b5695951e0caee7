import { execFile, spawnSync } from 'node:child_process';
import { findExecutable } from '../util/which.js';

/**
 * sd_notify(3) from Node. Node has no unix datagram sockets, so the message is handed to
 * systemd's own `systemd-notify` tool (always installed with systemd):
 *  - it sends to $NOTIFY_SOCKET (path or abstract "@" socket) exactly as libsystemd does;
 *  - since systemd 246 it waits (BARRIER=1) until the manager has processed the message, so a
 *    short-lived sender is not mis-attributed; `--pid` adds MAINPID= and, as root, sends with
 *    the daemon's credentials;
 *  - the unit needs NotifyAccess=all (the sender is a child process in the unit's cgroup).
 * A native addon was rejected: no prebuilt binaries for arm64 + Node 20 without a compiler on
 * the unit, and one more thing that can break on upgrade. Cost: ~5 ms and one fork per message,
 * sent every WatchdogSec/2 (10 s) — negligible.
 */
export class SdNotifier {
  readonly socket: string | null;
  private readonly binary: string | null;
  private warned = false;

  constructor(
    env: NodeJS.ProcessEnv = process.env,
    private readonly warn: (msg: string) => void = () => {},
    binary?: string | null,
  ) {
    this.socket = env.NOTIFY_SOCKET || null;
    this.binary = binary === undefined ? findExecutable('systemd-notify', env.PATH ?? '', ['/usr/bin', '/bin']) : binary;
  }

  /** true when running under systemd with a notify socket and the tool exists. */
  get enabled(): boolean {
    return this.socket !== null && this.binary !== null;
  }

  /** Sends KEY=VALUE fields; resolves false when not under systemd or the send failed (never rejects). */
  notify(fields: Record<string, string | number>): Promise<boolean> {
    if (!this.check()) return Promise.resolve(false);
    return new Promise((resolve) => {
      execFile(this.binary!, this.args(fields), { env: { ...process.env, NOTIFY_SOCKET: this.socket! }, timeout: 5000 }, (err) => {
        if (err) this.warnOnce(`systemd-notify failed: ${err.message}`);
        resolve(!err);
      });
    });
  }

  /** Synchronous variant for shutdown paths (STOPPING=1). */
  notifySync(fields: Record<string, string | number>): boolean {
    if (!this.check()) return false;
    const r = spawnSync(this.binary!, this.args(fields), { env: { ...process.env, NOTIFY_SOCKET: this.socket! }, timeout: 2000 });
    return r.status === 0;
  }

  private args(fields: Record<string, string | number>): string[] {
    // One line per field; newlines inside a value would start a new field, so they are flattened.
    return [`--pid=${process.pid}`, ...Object.entries(fields).map(([k, v]) => `${k}=${String(v).replace(/\n/g, ' ')}`)];
  }

  private check(): boolean {
    if (!this.socket) return false;
    if (!this.binary) {
      this.warnOnce('NOTIFY_SOCKET is set but systemd-notify is not on PATH: readiness and watchdog pings are not sent');
      return false;
    }
    return true;
  }

  private warnOnce(msg: string): void {
    if (this.warned) return;
    this.warned = true;
    this.warn(msg);
  }
}

/** The watchdog interval systemd asked for (half of WatchdogSec, in ms), or null when there is none for this process. */
export function watchdogIntervalMs(env: NodeJS.ProcessEnv = process.env, pid = process.pid): number | null {
  const usec = Number(env.WATCHDOG_USEC);
  if (!env.WATCHDOG_USEC || !Number.isFinite(usec) || usec <= 0) return null;
  if (env.WATCHDOG_PID && Number(env.WATCHDOG_PID) !== pid) return null;
  return Math.max(100, Math.floor(usec / 2000));
}
