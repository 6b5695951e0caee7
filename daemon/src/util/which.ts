import { accessSync, constants } from 'node:fs';
import { delimiter, join } from 'node:path';

/** The first executable called `name` in the PATH directories (then `extraDirs`), or null. */
export function findExecutable(name: string, path = process.env.PATH ?? '', extraDirs: readonly string[] = []): string | null {
  for (const dir of [...path.split(delimiter), ...extraDirs]) {
    if (!dir) continue;
    const file = join(dir, name);
    try {
      accessSync(file, constants.X_OK);
      return file;
    } catch {
      /* next */
    }
  }
  return null;
}
