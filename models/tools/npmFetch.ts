/**
 * Download a pinned npm tarball into the model cache (outside the repo) and check its
 * dist.integrity (sha512, SRI format). A cached file is re-used only if its integrity matches.
 */
import { createHash } from 'node:crypto';
import { existsSync, mkdirSync, readFileSync, renameSync, writeFileSync } from 'node:fs';
import { homedir } from 'node:os';
import { join } from 'node:path';
import type { PinnedPackage } from './sources.js';

export function modelCacheDir(): string {
  return process.env.BLINK_MODEL_CACHE ?? join(homedir(), '.cache', 'blink-models');
}

export function integrityOf(bytes: Uint8Array): string {
  return `sha512-${createHash('sha512').update(bytes).digest('base64')}`;
}

function cacheFile(pkg: PinnedPackage): string {
  return join(modelCacheDir(), `${pkg.name.replace(/^@/, '').replace('/', '-')}-${pkg.version}.tgz`);
}

type Log = (msg: string) => void;

async function download(pkg: PinnedPackage, log: Log): Promise<Uint8Array> {
  const res = await fetch(pkg.tarball);
  if (!res.ok || !res.body) throw new Error(`download ${pkg.tarball}: HTTP ${res.status}`);
  const total = Number(res.headers.get('content-length') ?? 0);
  const chunks: Uint8Array[] = [];
  let got = 0;
  let lastPct = -10;
  const reader = res.body.getReader();
  for (;;) {
    const { done, value } = await reader.read();
    if (done) break;
    chunks.push(value);
    got += value.length;
    const pct = total ? Math.floor((got / total) * 100) : 0;
    if (pct >= lastPct + 10) {
      lastPct = pct;
      log(`  ${pkg.name}@${pkg.version}: ${(got / 1e6).toFixed(1)}${total ? ` / ${(total / 1e6).toFixed(1)}` : ''} MB`);
    }
  }
  return Buffer.concat(chunks);
}

/** Return the tarball bytes of a pinned package, downloading it if needed. */
export async function fetchPinnedTarball(pkg: PinnedPackage, log: Log = (m) => process.stderr.write(`${m}\n`)): Promise<Uint8Array> {
  const file = cacheFile(pkg);
  if (existsSync(file)) {
    const cached = readFileSync(file);
    if (integrityOf(cached) === pkg.integrity) return cached;
    log(`cache file ${file} fails its integrity check, downloading again`);
  }
  log(`downloading ${pkg.tarball}`);
  const bytes = await download(pkg, log);
  const got = integrityOf(bytes);
  if (got !== pkg.integrity) throw new Error(`integrity mismatch for ${pkg.name}@${pkg.version}: expected ${pkg.integrity}, got ${got}`);
  mkdirSync(modelCacheDir(), { recursive: true });
  const tmp = `${file}.${process.pid}.tmp`;
  writeFileSync(tmp, bytes);
  renameSync(tmp, file);
  return bytes;
}
