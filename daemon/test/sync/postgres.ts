/**
 * Real PostgreSQL for the sync tests. The shared cluster on 127.0.0.1:5432 is started when it
 * is not running; each test file gets its own uniquely named database and drops it after.
 * Tests that restart PostgreSQL get a private cluster of their own (initdb in a temporary
 * directory, a free port), so they never disturb anyone else's database.
 */
import { execFileSync, spawnSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { chownSync, existsSync, mkdtempSync, readdirSync, rmSync } from 'node:fs';
import { connect } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import pg from 'pg';
import { freePort } from '../mqtt/broker.js';

const HOST = '127.0.0.1';
const PORT = 5432;

function portOpen(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const s = connect({ port, host: HOST });
    s.once('connect', () => (s.destroy(), resolve(true)));
    s.once('error', () => resolve(false));
  });
}

async function waitFor(port: number, ms: number): Promise<void> {
  const deadline = Date.now() + ms;
  while (!(await portOpen(port))) {
    if (Date.now() > deadline) throw new Error(`PostgreSQL did not listen on ${HOST}:${port} within ${ms} ms`);
    await new Promise((r) => setTimeout(r, 100));
  }
}

/** Starts the machine's PostgreSQL cluster when nothing listens on 5432 (a fresh machine). */
export async function ensureSharedPostgres(): Promise<void> {
  if (await portOpen(PORT)) return;
  const versions = existsSync('/etc/postgresql') ? readdirSync('/etc/postgresql') : [];
  if (!versions.length) throw new Error('PostgreSQL is not installed (apt-get install postgresql) and nothing listens on 127.0.0.1:5432');
  const r = spawnSync('pg_ctlcluster', ['--skip-systemctl-redirect', versions[0]!, 'main', 'start'], { encoding: 'utf8' });
  if (r.status !== 0) throw new Error(`pg_ctlcluster start failed: ${r.stderr}`);
  await waitFor(PORT, 30_000);
}

export interface TestDatabase {
  url: string;
  name: string;
  drop(): Promise<void>;
}

/** A new, empty database of its own on the given server (default: the shared cluster). */
export async function createTestDatabase(prefix = 'blink_sync', server = `postgresql://postgres@${HOST}:${PORT}`): Promise<TestDatabase> {
  if (server.endsWith(`:${PORT}`)) await ensureSharedPostgres();
  const name = `${prefix}_${process.pid}_${randomBytes(4).toString('hex')}`;
  const admin = new pg.Client({ connectionString: `${server}/postgres` });
  await admin.connect();
  await admin.query(`CREATE DATABASE ${name}`);
  await admin.end();
  return {
    url: `${server}/${name}`,
    name,
    async drop() {
      const c = new pg.Client({ connectionString: `${server}/postgres` });
      await c.connect();
      await c.query(`DROP DATABASE IF EXISTS ${name} WITH (FORCE)`);
      await c.end();
    },
  };
}

export interface PrivatePostgres {
  port: number;
  server: string;
  dir: string;
  start(): Promise<void>;
  /** fast: clean shutdown (disconnects clients); immediate: like a crash (recovery at the next start). */
  stop(mode?: 'fast' | 'immediate'): void;
  dispose(): void;
}

function pgBin(name: string): string {
  const versions = readdirSync('/usr/lib/postgresql').sort();
  return join('/usr/lib/postgresql', versions[versions.length - 1]!, 'bin', name);
}

function asPostgres(cmd: string, args: string[]): void {
  const asRoot = process.getuid?.() === 0;
  const r = asRoot ? spawnSync('runuser', ['-u', 'postgres', '--', cmd, ...args], { encoding: 'utf8' }) : spawnSync(cmd, args, { encoding: 'utf8' });
  if (r.status !== 0) throw new Error(`${cmd} ${args.join(' ')} failed: ${r.stderr || r.stdout}`);
}

/** A PostgreSQL cluster for one test file: initdb in a temporary directory, on a free port, trust auth on loopback. */
export async function startPrivatePostgres(): Promise<PrivatePostgres> {
  const dir = mkdtempSync(join(tmpdir(), 'blink-pg-'));
  if (process.getuid?.() === 0) {
    const uid = Number(execFileSync('id', ['-u', 'postgres'], { encoding: 'utf8' }).trim());
    const gid = Number(execFileSync('id', ['-g', 'postgres'], { encoding: 'utf8' }).trim());
    chownSync(dir, uid, gid);
  }
  const data = join(dir, 'data');
  asPostgres(pgBin('initdb'), ['-D', data, '-U', 'postgres', '--auth=trust', '-E', 'UTF8', '--no-sync']);
  const port = await freePort();
  const pgc: PrivatePostgres = {
    port,
    server: `postgresql://postgres@${HOST}:${port}`,
    dir,
    async start() {
      asPostgres(pgBin('pg_ctl'), [
        '-D',
        data,
        '-l',
        join(dir, 'log'),
        '-w',
        '-o',
        `-p ${port} -k ${dir} -c listen_addresses=${HOST} -c fsync=on -c max_connections=60`,
        'start',
      ]);
      await waitFor(port, 30_000);
    },
    stop(mode = 'fast') {
      asPostgres(pgBin('pg_ctl'), ['-D', data, '-m', mode, '-w', 'stop']);
    },
    dispose() {
      try {
        pgc.stop('immediate');
      } catch {
        /* not running */
      }
      rmSync(dir, { recursive: true, force: true });
    },
  };
  await pgc.start();
  return pgc;
}
