import { describe, expect, it } from 'vitest';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { loadConfig } from '../../src/config/load.js';
import { ConfigError } from '../../src/config/errors.js';
import { currentKeyPath, migrateConfig } from '../../src/config/migrations.js';
import { CONFIG_VERSION, configSchema } from '../../src/config/schema.js';
import { UnitSettings } from '../../src/config/unitSettings.js';
import { openDatabase } from '../../src/store/database.js';
import { tempDir } from '../helpers/blinkd.js';

/** Unknown keys are fatal, so a renamed key must be carried over, never brick a unit that upgrades. */
describe('configuration layout version and migrations', () => {
  it('a layout-1 file (no version) with a renamed key loads, the value under the new key, with a note naming it', () => {
    const t = tempDir('blink-cfgmig-');
    try {
      const file = join(t.dir, 'blinkd.yaml');
      writeFileSync(file, 'sync:\n  relayUrl: https://sync.example.org\n');
      const loaded = loadConfig({ path: file, env: {} });
      expect(loaded.config.sync.serverUrl).toBe('https://sync.example.org');
      expect(loaded.config.version).toBe(CONFIG_VERSION);
      expect(loaded.migrationNotes).toEqual([expect.stringMatching(/^sync\.relayUrl is now sync\.serverUrl .*write sync\.serverUrl in the file/)]);
    } finally {
      t.cleanup();
    }
  });

  it("layout 1's shared sync API key and raw AES key are retired: the file loads, the values are dropped, a note says so (never echoing them)", () => {
    const t = tempDir('blink-cfgmig-');
    try {
      const file = join(t.dir, 'blinkd.yaml');
      writeFileSync(file, 'sync:\n  apiKey: s3cret-api-key\n  encryptionKey: c2VjcmV0LWFlcy1rZXk=\n');
      const loaded = loadConfig({ path: file, env: {} });
      expect(loaded.config.sync).not.toHaveProperty('apiKey');
      expect(loaded.migrationNotes).toEqual([
        expect.stringMatching(/^sync\.apiKey is no longer used .*remove it from the file/),
        expect.stringMatching(/^sync\.encryptionKey is no longer used/),
      ]);
      expect(loaded.migrationNotes.join('\n')).not.toMatch(/s3cret|c2VjcmV0/);
    } finally {
      t.cleanup();
    }
  });

  it('the new key wins when both are set; a file from a newer blinkd or a bad version is refused, naming version', () => {
    const both = migrateConfig({ sync: { relayUrl: 'a', serverUrl: 'b' } });
    expect((both.raw.sync as Record<string, unknown>).serverUrl).toBe('b');
    expect(both.notes[0]).toMatch(/both are set/);
    const t = tempDir('blink-cfgmig-');
    try {
      const file = join(t.dir, 'blinkd.yaml');
      writeFileSync(file, `version: ${CONFIG_VERSION + 1}\n`);
      expect(() => loadConfig({ path: file, env: {} })).toThrow(ConfigError);
      try {
        loadConfig({ path: file, env: {} });
      } catch (err) {
        expect((err as ConfigError).problems[0]).toMatch(/^version: got \d+, expected at most \d+: this file was written for a newer blinkd/);
      }
      writeFileSync(file, 'version: "two"\n');
      expect(() => loadConfig({ path: file, env: {} })).toThrow(/version: got "two"/);
    } finally {
      t.cleanup();
    }
  });

  it("a custom migration list renames nested keys in order (the mechanism, independent of today's list)", () => {
    const r = migrateConfig(
      { a: { b: 1 } },
      [
        { version: 2, why: 'x', renames: [['a.b', 'a.c']] },
        { version: 3, why: 'y', renames: [['a.c', 'd.e']] },
      ],
      3,
    );
    expect(r.raw).toEqual({ a: {}, d: { e: 1 }, version: 3 });
    expect(r.fromVersion).toBe(1);
    expect(currentKeyPath('sync.relayUrl')).toBe('sync.serverUrl');
  });

  it('a setting saved in the admin under an old name is applied under the new one', () => {
    const t = tempDir('blink-cfgmig-');
    const db = openDatabase(join(t.dir, 'blink.db'));
    try {
      db.prepare("INSERT INTO settings (key, value_json, updated_at) VALUES ('sync.relayUrl', '\"https://old.example\"', '2026-01-01T00:00:00Z')").run();
      const s = UnitSettings.resolve(configSchema.parse({}), db);
      expect(s.config.sync.serverUrl).toBe('https://old.example');
      expect(s.overlay.applied).toEqual(['sync.serverUrl']);
    } finally {
      db.close();
      t.cleanup();
    }
  });
});
