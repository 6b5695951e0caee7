import type { Db } from '../store/database.js';

/**
 * A counter bumped in the same transaction as every change to people or templates, by whichever
 * process made it (the daemon, `blinkd enroll`, `blinkd people remove`). A running unit compares
 * it with the revision its gallery was built from, so a change made by another process reaches
 * the door within a poll, without a restart.
 */
export class RevisionTable {
  constructor(private readonly db: Db) {}

  current(): number {
    return (this.db.prepare('SELECT rev FROM registry_revision WHERE id = 1').get() as { rev: number } | undefined)?.rev ?? 0;
  }

  /** Bumps the revision; call inside the change's transaction. Returns the new revision. */
  bump(): number {
    this.db.prepare('INSERT INTO registry_revision (id, rev) VALUES (1, 1) ON CONFLICT(id) DO UPDATE SET rev = rev + 1').run();
    return this.current();
  }
}
