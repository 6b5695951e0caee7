import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { testDataDir } from '../../src/system/paths.js';

/** Shared data present? In CI (env CI set) data tests run anyway and fail when it is missing. */
export const DATA = testDataDir();
export const HAS_DATA = existsSync(join(DATA, 'faces')) && existsSync(join(DATA, 'video')) && existsSync(join(DATA, 'spoof'));
export const SKIP_DATA = !HAS_DATA && !process.env.CI;
