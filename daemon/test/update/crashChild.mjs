// A child process for the update tests: applies a bundle with the built updater and kills itself
// with SIGKILL (no cleanup, no finally blocks: like a power cut) when the update reaches the phase
// named in the arguments. Run with: node crashChild.mjs '<json options>'
import { createPublicKey } from 'node:crypto';
import Database from 'better-sqlite3';

const { distUpdater, root, databaseFile, publicPem, bundle, crashAt } = JSON.parse(process.argv[2]);
const { Updater } = await import(distUpdater);

const updater = new Updater({
  root,
  databaseFile,
  trustedKeys: [createPublicKey(publicPem)],
  service: {
    stop: async () => undefined,
    // The new release starting: it migrates the database.
    start: async () => {
      const d = new Database(databaseFile);
      d.exec("ALTER TABLE people ADD COLUMN badge TEXT; INSERT INTO people (name, badge) VALUES ('Bob', 'x'); PRAGMA user_version = 2;");
      d.close();
    },
  },
  checks: () => [{ name: 'never', check: async () => ({ ok: false, detail: 'the gate should not be reached' }) }],
  gateDeadlineMs: 60_000,
  onPhase: (phase) => {
    if (phase === crashAt) process.kill(process.pid, 'SIGKILL');
  },
});
await updater.apply(bundle);
process.exit(3); // not reached when the crash point is hit
