import { existsSync, lstatSync, mkdirSync, readFileSync, readdirSync, readlinkSync, renameSync, rmSync, symlinkSync } from 'node:fs';
import { basename, join } from 'node:path';
import { fsyncDir } from './state.js';
import { RELEASE_MARKER, sha256 } from './manifest.js';

/**
 * The side-by-side release layout under the app root (owner of `current`):
 *
 *   <root>/releases/<version>/   one complete app tree per release (+ .blink-release.json)
 *   <root>/current -> releases/<version>   what systemd runs; switched by renaming a new symlink over it
 */
export class ReleaseLayout {
  constructor(readonly root: string) {}

  get releasesDir(): string {
    return join(this.root, 'releases');
  }

  get currentLink(): string {
    return join(this.root, 'current');
  }

  releaseDir(version: string): string {
    return join(this.releasesDir, version);
  }

  /** The version `current` points to, or null when there is no `current` yet. */
  currentVersion(): string | null {
    let target: string;
    try {
      target = readlinkSync(this.currentLink);
    } catch {
      return null;
    }
    return basename(target);
  }

  has(version: string): boolean {
    return existsSync(join(this.releaseDir(version), 'daemon', 'bin', 'blinkd.js'));
  }

  /** sha256 of the manifest a release was installed from (null: installed by install.sh or unknown). */
  installedDigest(version: string): string | null {
    try {
      return sha256(readFileSync(join(this.releaseDir(version), RELEASE_MARKER)));
    } catch {
      return null;
    }
  }

  versions(): string[] {
    try {
      return readdirSync(this.releasesDir).filter((n) => !n.startsWith('.') && lstatSync(join(this.releasesDir, n)).isDirectory());
    } catch {
      return [];
    }
  }

  /** `previous` -> the release an update started from: the boot-time recovery runs that (known good) code. */
  get previousLink(): string {
    return join(this.root, 'previous');
  }

  /** Atomic switch: a new symlink next to `current`, renamed over it (rename(2) replaces it in one step). */
  switchTo(version: string, link = this.currentLink): void {
    if (!this.has(version)) throw new Error(`release ${version} is not installed under ${this.releasesDir}`);
    const tmp = join(this.root, `.link.tmp-${process.pid}`);
    rmSync(tmp, { force: true });
    symlinkSync(join('releases', version), tmp);
    renameSync(tmp, link);
    fsyncDir(this.root);
  }

  /** Moves a verified tree into place as releases/<version> (same file system: one rename). */
  adopt(tree: string, version: string): void {
    mkdirSync(this.releasesDir, { recursive: true });
    const dest = this.releaseDir(version);
    if (existsSync(dest)) {
      const old = join(this.releasesDir, `.old-${version}-${process.pid}`);
      renameSync(dest, old);
      rmSync(old, { recursive: true, force: true });
    }
    renameSync(tree, dest);
    fsyncDir(this.releasesDir);
  }

  /** Removes releases beyond the newest `keep`, never the ones listed in `protect`. */
  prune(keep: number, protect: readonly (string | null)[]): string[] {
    const all = this.versions()
      .map((v) => ({ v, t: lstatSync(this.releaseDir(v)).mtimeMs }))
      .sort((a, b) => b.t - a.t)
      .map((x) => x.v);
    const removed: string[] = [];
    for (const v of all.slice(keep)) {
      if (protect.includes(v)) continue;
      rmSync(this.releaseDir(v), { recursive: true, force: true });
      removed.push(v);
    }
    return removed;
  }
}
