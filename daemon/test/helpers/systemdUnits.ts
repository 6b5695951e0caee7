import { spawnSync, type SpawnSyncReturns } from 'node:child_process';
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { REPO_ROOT, tempDir } from './blinkd.js';

/**
 * `systemd-analyze verify` on the repository's units. They run `/opt/blink/node/current/bin/node`,
 * which exists only on an installed unit (install.sh makes it), so the copies verified here run
 * this test's node instead; everything else is the unit as shipped.
 */
export function verifyUnits(names: readonly string[], cleanups: Array<() => void>): SpawnSyncReturns<string> {
  const t = tempDir();
  cleanups.push(t.cleanup);
  const files = names.map((u) => {
    const text = readFileSync(join(REPO_ROOT, 'systemd', u), 'utf8').replaceAll('/opt/blink/node/current/bin/node', process.execPath);
    writeFileSync(join(t.dir, u), text);
    return join(t.dir, u);
  });
  return spawnSync('systemd-analyze', ['verify', ...files], { encoding: 'utf8' });
}
