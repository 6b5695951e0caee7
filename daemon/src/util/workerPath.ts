import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { repoRoot } from '../system/paths.js';

/**
 * The compiled worker script `name` (e.g. 'vision/worker.js') beside the calling module when it runs from dist,
 * else from dist/ of the installation (tests run the callers from TypeScript sources; workers always run compiled).
 */
export function compiledWorker(name: string, callerUrl: string, sameFolderName: string): string {
  const here = fileURLToPath(new URL(`./${sameFolderName}`, callerUrl));
  if (existsSync(here)) return here;
  const dist = join(repoRoot(), 'dist', 'daemon', 'src', name);
  if (existsSync(dist)) return dist;
  throw new Error(`worker not built: ${dist} is missing (run npm run build)`);
}
