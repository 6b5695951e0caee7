import { chmodSync, existsSync, readFileSync, rmSync, writeFileSync, mkdirSync } from 'node:fs';
import { timingSafeEqual, createHash } from 'node:crypto';
import { join } from 'node:path';
import { newToken } from './sessionsRepo.js';

/**
 * The one-time token that guards first-run setup. It exists only while the unit has no
 * admin account; it is printed to the log at start and kept (mode 0600) in the data
 * directory so a restart shows the same token. A stranger on the LAN who opens the admin
 * first cannot claim the unit without reading the journal or the data directory.
 */
export class SetupToken {
  private token: string | null = null;

  constructor(private readonly dataDir: string) {}

  get file(): string {
    return join(this.dataDir, 'admin-setup-token');
  }

  /** Loads or creates the token. */
  ensure(): string {
    if (this.token) return this.token;
    if (existsSync(this.file)) {
      const saved = readFileSync(this.file, 'utf8').trim();
      if (/^[A-Za-z0-9_-]{16,}$/.test(saved)) return (this.token = saved);
    }
    mkdirSync(this.dataDir, { recursive: true });
    // Short enough to type from the journal on a phone, long enough not to guess (~100 bits).
    this.token = newToken(13);
    writeFileSync(this.file, this.token + '\n', { mode: 0o600 });
    chmodSync(this.file, 0o600);
    return this.token;
  }

  active(): boolean {
    return this.token !== null;
  }

  matches(candidate: string): boolean {
    if (!this.token) return false;
    const a = createHash('sha256').update(candidate.trim()).digest();
    const b = createHash('sha256').update(this.token).digest();
    return timingSafeEqual(a, b);
  }

  /** Setup done: the token is gone for good. */
  consume(): void {
    this.token = null;
    rmSync(this.file, { force: true });
  }
}
