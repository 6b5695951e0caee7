import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { build } from 'esbuild';
import { chromium, type Browser, type Page } from 'playwright-core';
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

/** Builds the web admin (app.js, app.css, index.html) into `dir`, as the release build does. */
export async function buildUi(dir: string): Promise<void> {
  const src = join(REPO_ROOT, 'web-admin');
  await build({
    entryPoints: [join(src, 'src', 'app.ts'), join(src, 'src', 'app.css')],
    outdir: dir,
    bundle: true,
    format: 'esm',
    target: 'es2020',
    entryNames: '[name]',
    logLevel: 'warning',
  });
  writeFileSync(join(dir, 'index.html'), readFileSync(join(src, 'index.html'), 'utf8').replaceAll('__VERSION__', 'test'));
}

/** A page in a phone-sized context (390 × 844, touch, en-US), as facilities staff mostly use it. */
export async function phonePage(browser: Browser): Promise<Page> {
  const context = await browser.newContext({ viewport: PHONE, deviceScaleFactor: 1, isMobile: true, hasTouch: true, locale: 'en-US' });
  return context.newPage();
}

/** Opens the admin at `url` in `page`, signs in through the login form and waits for the dashboard. */
export async function signIn(page: Page, url: string, username: string, password: string): Promise<void> {
  page.on('pageerror', (err) => console.error('page error:', err.message));
  await page.goto(url + '/');
  await page.waitForSelector('#login-form');
  await page.fill('input[name=username]', username);
  await page.fill('input[name=password]', password);
  await page.click('#login-form button[type=submit]');
  await page.waitForSelector('#door-state');
}
