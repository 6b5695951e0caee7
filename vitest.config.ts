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
    reporters: ['default'],
  },
});
