import { existsSync, readFileSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

let cachedRoot: string | undefined;

/** The blinkd installation root (the folder with package.json, models/, web-admin/). Works from src and dist. */
export function repoRoot(): string {
  if (cachedRoot) return cachedRoot;
  let dir = dirname(fileURLToPath(import.meta.url));
  for (;;) {
    const pkg = join(dir, 'package.json');
    if (existsSync(pkg)) {
      try {
        if ((JSON.parse(readFileSync(pkg, 'utf8')) as { name?: string }).name === 'blink-edge') return (cachedRoot = dir);
      } catch {
        /* keep walking */
      }
    }
    const up = dirname(dir);
    if (up === dir) throw new Error('cannot find the blink-edge installation root above ' + fileURLToPath(import.meta.url));
    dir = up;
  }
}

export function packageVersion(): string {
  return (JSON.parse(readFileSync(join(repoRoot(), 'package.json'), 'utf8')) as { version: string }).version;
}

/** Shared test/evaluation data (faces/, video/, spoof/): $BLINK_TEST_DATA or ../shared/data beside the checkout. */
export function testDataDir(): string {
  return process.env.BLINK_TEST_DATA ? resolve(process.env.BLINK_TEST_DATA) : resolve(repoRoot(), '..', 'shared', 'data');
}
