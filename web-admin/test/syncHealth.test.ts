import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { build } from 'esbuild';
import { type Browser, type Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Client, startAdmin, type Harness } from '../../daemon/test/admin/adminHarness.js';
import { REPO_ROOT, tempDir } from '../../daemon/test/helpers/blinkd.js';
import { freePort } from '../../daemon/test/mqtt/broker.js';
import { launchBrowser, haveChromium, PHONE, SHOTS } from './browser.js';

/**
 * The admin's Health page shows the unit's sync state in words (the Sync card, from /health
 * services.sync) for a unit whose sync server cannot be reached: last synced never, the last
 * error, what waits to be sent. The UI is bundled from web-admin/src (tests the current source).
 */
describe.runIf(haveChromium)('sync state on the Health page (phone)', () => {
  const ui = tempDir('blink-ui-');
  const secrets = tempDir('blink-sync-secrets-');
  let h: Harness;
  let browser: Browser;
  let page: Page;
  let port: number;

  beforeAll(async () => {
    mkdirSync(SHOTS, { recursive: true });
    const src = join(REPO_ROOT, 'web-admin');
    await build({
      entryPoints: [join(src, 'src', 'app.ts'), join(src, 'src', 'app.css')],
      outdir: ui.dir,
      bundle: true,
      format: 'esm',
      target: 'es2020',
      entryNames: '[name]',
      logLevel: 'warning',
    });
    writeFileSync(join(ui.dir, 'index.html'), readFileSync(join(src, 'index.html'), 'utf8').replaceAll('__VERSION__', 'test'));
    const passphraseFile = join(secrets.dir, 'passphrase');
    writeFileSync(passphraseFile, 'the organisation passphrase, long enough');
    port = await freePort(); // nobody listens there
    h = await startAdmin(
      {
        unit: { id: 'front-door' },
        sync: { enabled: true, serverUrl: `http://127.0.0.1:${port}`, org: 'acme', passphraseFile, backoffBaseMs: 100, backoffCapMs: 1000 },
      },
      { uiDir: ui.dir },
    );
    expect(await new Client(h.url).setup(h.setupToken(), 'facilities', 'correct horse battery')).toBe(200);
    await h.unit.sync!.syncNow();

    browser = await launchBrowser();
    const context = await browser.newContext({ viewport: PHONE, deviceScaleFactor: 1, isMobile: true, hasTouch: true, locale: 'en-US' });
    page = await context.newPage();
    page.on('pageerror', (err) => console.error('page error:', err.message));
    await page.goto(h.url + '/');
    await page.waitForSelector('#login-form');
    await page.fill('input[name=username]', 'facilities');
    await page.fill('input[name=password]', 'correct horse battery');
    await page.click('#login-form button[type=submit]');
    await page.waitForSelector('#door-state');
  }, 120_000);

  afterAll(async () => {
    await browser?.close().catch(() => {});
    await h?.close();
    ui.cleanup();
    secrets.cleanup();
  });

  it('says the server cannot be reached, that the unit never synced, and what waits to be sent', async () => {
    await page.goto(h.url + '/#/health');
    await page.waitForSelector('#sync-card');
    const text = (await page.textContent('#sync-card')) ?? '';
    expect(text).toContain(`http://127.0.0.1:${port} · organisation acme`);
    expect(text).toMatch(/Connected\s*no/);
    expect(text).toContain('never (people deactivated elsewhere still pass here until then)');
    expect(text).toContain(`cannot reach the sync server at http://127.0.0.1:${port}`);
    expect(text).toContain('0 people · 0 attendance rows');
    await page.screenshot({ path: join(SHOTS, '30-health-sync-phone.png'), fullPage: true });
  });
});
