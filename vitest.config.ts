import { defineConfig } from 'vitest/config';

// Tests run against real components (SQLite files, Mosquitto, PostgreSQL, Chromium),
// so they get generous timeouts and at most two files at a time on the 2-core CI box.
export default defineConfig({
  test: {
    include: ['daemon/test/**/*.test.ts', 'models/test/**/*.test.ts', 'web-admin/test/**/*.test.ts'],
    testTimeout: 60_000,
    hookTimeout: 120_000,
    pool: 'forks',
    maxWorkers: 2,
    // A poll waits for a state that comes within seconds; on a loaded 2-core box an scrypt login alone takes over 3 s.
    expect: { poll: { timeout: 15_000, interval: 100 } },
    reporters: ['default'],
  },
});
