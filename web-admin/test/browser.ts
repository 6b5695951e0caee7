import { existsSync } from 'node:fs';
import { resolve } from 'node:path';
import { chromium, type Browser } from 'playwright-core';
import { REPO_ROOT } from '../../daemon/test/helpers/blinkd.js';

/** Debian's Chromium, driven by playwright-core (never a downloaded browser). */
export const CHROMIUM = '/usr/bin/chromium';
export const haveChromium = existsSync(CHROMIUM);
if (process.env.CI && !haveChromium) throw new Error(`${CHROMIUM} missing: apt-get install -y chromium`);

export const SHOTS = resolve(REPO_ROOT, 'test-output', 'screenshots');
export const PHONE = { width: 390, height: 844 };

/**
 * Headless Chromium with the flags this closed network needs: without the background-networking
 * ones it tries Google's hosts at every start and its connections are refused.
 */
export function launchBrowser(): Promise<Browser> {
  return chromium.launch({
    executablePath: CHROMIUM,
    args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-background-networking', '--disable-component-update', '--disable-sync', '--no-first-run'],
  });
}
