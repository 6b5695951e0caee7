import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { createServer, connect as netConnect, type Server } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

import { freePort } from '../helpers/blinkd.js';

export { freePort };

export const MOSQUITTO = '/usr/sbin/mosquitto';

function portOpen(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const s = netConnect({ port, host: '127.0.0.1' });
    s.once('connect', () => (s.destroy(), resolve(true)));
    s.once('error', () => resolve(false));
  });
}

export interface TestBroker {
  readonly kind: 'mosquitto' | 'aedes';
  readonly port: number;
  readonly url: string;
  readonly dir: string;
  /** (Re)starts the broker on the same port. */
  start(): Promise<void>;
  /** Stops it (SIGTERM: Mosquitto saves its persistence file first). */
  stop(): Promise<void>;
  /** Stops it and removes its files. */
  dispose(): Promise<void>;
}

export interface BrokerOptions {
  /** Keep sessions and retained messages across a broker restart. */
  persistence?: boolean;
  /** Queue QoS 0 messages for offline persistent sessions (as EMQX does by default). */
  queueQos0?: boolean;
}

/**
 * A private broker per test file: Mosquitto on a random free port with its own config
 * and data dir, so tests never collide with each other or a system broker. Falls back to
 * an in-process Aedes broker only where Mosquitto is not installed.
 */
export async function startBroker(options: BrokerOptions = {}): Promise<TestBroker> {
  const port = await freePort();
  const dir = mkdtempSync(join(tmpdir(), 'blink-mqtt-'));
  if (!existsSync(MOSQUITTO)) return aedesBroker(port, dir);
  const conf = join(dir, 'mosquitto.conf');
  writeFileSync(
    conf,
    [
      `listener ${port} 127.0.0.1`,
      'allow_anonymous true',
      `persistence ${options.persistence ? 'true' : 'false'}`,
      `persistence_location ${dir}/`,
      'autosave_interval 0',
      'max_queued_messages 100000',
      'max_inflight_messages 20',
      `queue_qos0_messages ${options.queueQos0 ? 'true' : 'false'}`,
      `log_dest file ${join(dir, 'mosquitto.log')}`,
      'log_type error',
      'log_type warning',
      'log_type notice',
      ...(process.getuid?.() === 0 ? ['user root'] : []),
      '',
    ].join('\n'),
  );
  let child: ChildProcess | null = null;
  const broker: TestBroker = {
    kind: 'mosquitto',
    port,
    url: `mqtt://127.0.0.1:${port}`,
    dir,
    async start() {
      if (child) return;
      const c = spawn(MOSQUITTO, ['-c', conf], { stdio: ['ignore', 'ignore', 'pipe'] });
      child = c;
      let stderr = '';
      c.stderr!.on('data', (d: Buffer) => (stderr += d.toString()));
      const deadline = Date.now() + 10_000;
      while (!(await portOpen(port))) {
        if (c.exitCode !== null) throw new Error(`mosquitto exited (${c.exitCode}): ${stderr}`);
        if (Date.now() > deadline) throw new Error(`mosquitto did not listen on ${port}: ${stderr}`);
        await new Promise((r) => setTimeout(r, 25));
      }
    },
    async stop() {
      const c = child;
      child = null;
      if (!c || c.exitCode !== null) return;
      const exited = new Promise<void>((r) => c.once('exit', () => r()));
      c.kill('SIGTERM');
      await exited;
    },
    async dispose() {
      await broker.stop();
      rmSync(dir, { recursive: true, force: true });
    },
  };
  await broker.start();
  return broker;
}

async function aedesBroker(port: number, dir: string): Promise<TestBroker> {
  // Only where Mosquitto is absent. Aedes keeps sessions in memory, so nothing survives a restart.
  const { Aedes } = (await import('aedes')) as unknown as { Aedes: { createBroker(): Promise<{ handle: (s: unknown) => void; close(cb: () => void): void }> } };
  let server: Server | null = null;
  let aedes: { close(cb: () => void): void } | null = null;
  const broker: TestBroker = {
    kind: 'aedes',
    port,
    url: `mqtt://127.0.0.1:${port}`,
    dir,
    async start() {
      if (server) return;
      const a = await Aedes.createBroker();
      aedes = a;
      server = createServer(a.handle as (s: unknown) => void);
      await new Promise<void>((r) => server!.listen(port, '127.0.0.1', () => r()));
    },
    async stop() {
      const s = server;
      server = null;
      if (!s) return;
      await new Promise<void>((r) => aedes!.close(() => r()));
      await new Promise<void>((r) => s.close(() => r()));
    },
    async dispose() {
      await broker.stop();
      rmSync(dir, { recursive: true, force: true });
    },
  };
  await broker.start();
  return broker;
}
