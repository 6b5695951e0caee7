import { copyFileSync, existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { type Browser, type BrowserContext, type Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startBlinkd, tempDir, type RunningBlinkd } from '../../daemon/test/helpers/blinkd.js';
import { testDataDir } from '../../daemon/src/system/paths.js';
import { doorThreshold } from '../../daemon/test/helpers/operatingPoint.js';
import { launchBrowser, haveChromium, PHONE, SHOTS } from './browser.js';

/**
 * The web admin end to end, in headless Chromium against a real `blinkd run` (compiled):
 * first-run setup with the token from the log, sign-out and sign-in, enrollment from real
 * photos, the person listed, a replay of another photo of them through the door camera
 * (images:DIR) giving a GRANTED event and an attendance row, unlock now, CSV export,
 * a settings change, sign-out. Screenshots go to test-output/screenshots/.
 */

const FACES = join(testDataDir(), 'faces');
const haveData = existsSync(join(FACES, 'amy', 'amy1.png'));
if (process.env.CI && !haveData) throw new Error(`test data missing at ${FACES}`);
const PASSWORD = 'door-keeper-2026';

describe.runIf(haveData && haveChromium)('web admin in a browser', () => {
  const tmp = tempDir('blink-e2e-');
  const cameraDir = join(tmp.dir, 'camera');
  let blinkd: RunningBlinkd;
  let browser: Browser;
  let context: BrowserContext;
  let page: Page;
  let url = '';
  let setupToken = '';

  /** On a phone, sign-out lives on the "More" page. */
  const signOut = async () => {
    await page.click('#nav a.more-nav');
    await page.click('#logout-more');
  };

  const shot = async (name: string, p: Page = page) => {
    await p.screenshot({ path: join(SHOTS, `${name}.png`), fullPage: true });
  };

  beforeAll(async () => {
    mkdirSync(SHOTS, { recursive: true });
    mkdirSync(cameraDir);
    const config = join(tmp.dir, 'blinkd.yaml');
    writeFileSync(
      config,
      [
        'unit: { name: "Front door" }',
        `store: { dataDir: "${join(tmp.dir, 'data')}" }`,
        'door: { driver: simulated, pulseMs: 1500 }',
        // The camera folder starts empty (the camera retries every second) and gets the replay photos later.
        `camera: { source: "images:${cameraDir}", fps: 5, loop: true, restartBackoffMinMs: 200, restartBackoffMaxMs: 1000 }`,
        // A still photo cannot blink, and printed-photo checks (passive, MiniFASNet) would (rightly) flag a replayed PNG.
        'access: { liveness: { blink: false, passive: false, headTurn: false, pad: false } }',
        'admin: { host: 127.0.0.1, port: 0 }',
        'mqtt: { enabled: false }',
      ].join('\n'),
    );
    blinkd = await startBlinkd(['run', '--config', config], { cwd: tmp.dir, env: { BLINK_LOGGING__LEVEL: 'info' } });
    await blinkd.waitForHealth();
    url = blinkd.url;
    // The one-time token is in the data folder and on the console (the journal), where an installer finds it.
    setupToken = readFileSync(join(tmp.dir, 'data', 'admin-setup-token'), 'utf8').trim();
    expect(blinkd.lines.some((l) => typeof l.msg === 'string' && l.msg.includes(setupToken))).toBe(true);
    browser = await launchBrowser();
    context = await browser.newContext({ viewport: PHONE, deviceScaleFactor: 1, isMobile: true, hasTouch: true, acceptDownloads: true });
    page = await context.newPage();
    page.on('pageerror', (err) => console.error('page error:', err.message));
  }, 120_000);

  afterAll(async () => {
    await browser?.close().catch(() => {});
    if (blinkd && blinkd.child.exitCode === null) {
      blinkd.child.kill('SIGTERM');
      await blinkd.exited;
    }
    tmp.cleanup();
  });

  it('first run: setup with the token from the log, then sign out and in', async () => {
    await page.goto(url);
    await page.waitForSelector('#setup-form');
    await shot('01-setup-phone');
    await page.fill('input[name=token]', 'wrong-token');
    await page.fill('input[name=username]', 'facilities');
    await page.fill('input[name=password]', PASSWORD);
    await page.fill('input[name=password2]', PASSWORD);
    await page.click('#setup-form button[type=submit]');
    await expect.poll(() => page.textContent('#setup-form .error')).toMatch(/wrong setup token/);
    await page.fill('input[name=token]', setupToken);
    await page.click('#setup-form button[type=submit]');
    await page.waitForSelector('#door-state');
    expect(await page.textContent('#door-state')).toBe('Locked');
    await signOut();
    await page.waitForSelector('#login-form');
    await page.fill('input[name=username]', 'facilities');
    await page.fill('input[name=password]', 'not the password');
    await page.click('#login-form button[type=submit]');
    await expect.poll(() => page.textContent('#login-form .error')).toMatch(/wrong user name or password/);
    await shot('02-login-error-phone');
    await page.fill('input[name=password]', PASSWORD);
    await page.click('#login-form button[type=submit]');
    await page.waitForSelector('#door-state');
    await shot('03-dashboard-empty-phone');
  });

  it('enrolls a person from real photos and lists them', async () => {
    await page.click('#nav a[href="#/people"]');
    await page.click('#enroll-button');
    await page.fill('#enroll-form input[name=name]', 'Amy Farrah');
    await page.setInputFiles(
      '#enroll-photos',
      ['amy1.png', 'amy2.png', 'amy3.png'].map((f) => join(FACES, 'amy', f)),
    );
    await shot('04-enroll-phone');
    await page.click('#enroll-form button[type=submit]');
    await page.waitForSelector('#person-form');
    expect(await page.textContent('#person-form h1')).toBe('Amy Farrah');
    expect(await page.textContent('#person-form')).toContain('3 face templates');
    await shot('05-person-phone');
    // A photo with two faces is refused with a clear message.
    await page.goto(url + '/#/enroll');
    await page.fill('#enroll-form input[name=name]', 'Group');
    await page.setInputFiles('#enroll-photos', [join(FACES, 'group_photos', 'face_recognition__two_people.jpg')]);
    await page.click('#enroll-form button[type=submit]');
    await expect.poll(() => page.textContent('#enroll-error'), { timeout: 20_000 }).toMatch(/faces found; use a photo of one person/);
    await shot('06-enroll-refused-phone');
    await page.goto(url + '/#/people');
    await page.waitForSelector('#people-list a.person');
    expect(await page.locator('#people-list a.person').count()).toBe(1);
    await page.fill('#people-search', 'farrah');
    await expect.poll(() => page.textContent('#people-list')).toContain('Amy Farrah');
    await shot('07-people-phone');
  });

  it('a replay of another photo of her at the door camera gives GRANTED and an attendance row', async () => {
    copyFileSync(join(FACES, 'amy', 'amy4.png'), join(cameraDir, 'amy4.png'));
    await page.goto(url + '/#/');
    await page.waitForSelector('#recent-events li[data-result=GRANTED]', { timeout: 45_000 });
    expect(await page.textContent('#recent-events')).toContain('Amy Farrah');
    await page.waitForSelector('#today-attendance li', { timeout: 10_000 });
    expect(await page.textContent('#today-attendance')).toContain('Amy Farrah');
    await shot('08-dashboard-granted-phone');
    // Unlock now: confirmed, audited, and the door state follows.
    await page.click('#unlock-now');
    await page.click('dialog.confirm button:has-text("Unlock now")');
    await expect.poll(() => page.textContent('#door-state'), { timeout: 5000 }).toBe('Unlocked');
    await page.setViewportSize({ width: 1280, height: 900 });
    await shot('09-dashboard-desktop');
    await page.setViewportSize(PHONE);
  });

  it('the camera enrollment page shows the door camera with live quality feedback', async () => {
    await page.goto(url + '/#/enroll-camera');
    await page.waitForSelector('.feedback li', { timeout: 20_000 });
    await expect.poll(() => page.textContent('.feedback'), { timeout: 20_000 }).toMatch(/Face size \d+ px/);
    await page.waitForTimeout(800);
    await shot('09b-enroll-camera-phone');
    await page.click('button:has-text("Capture")');
    await page.waitForSelector('.previews img');
    await page.fill('form input[name=name]', 'Amy Again');
    await page.click('form button[type=submit]');
    // She is enrolled already: the duplicate check says so, by name.
    await expect.poll(() => page.textContent('form .error')).toMatch(/already enrolled as Amy Farrah/);
  });

  it('filters events and exports CSV; attendance shows the day', async () => {
    await page.goto(url + '/#/events');
    await page.selectOption('select[name=result]', 'GRANTED');
    await expect.poll(() => page.textContent('#events-list')).toContain('Amy Farrah');
    await shot('10-events-phone');
    const [download] = await Promise.all([page.waitForEvent('download'), page.click('#events-csv')]);
    const csv = readFileSync(await download.path(), 'utf8');
    expect(csv.split('\r\n')[0]).toBe('time,result,reason,person_id,person_name,score,margin,source,door,event_id');
    const granted = /GRANTED,match,[0-9a-f-]+,Amy Farrah,([0-9.]+),/.exec(csv);
    expect(granted).not.toBeNull();
    // the score of the grant reached the threshold the door used (the default embedder's operating point for one person)
    expect(Number(granted![1])).toBeGreaterThanOrEqual(doorThreshold(1));
    await page.goto(url + '/#/attendance');
    await expect.poll(() => page.textContent('#attendance-table')).toContain('Amy Farrah');
    await shot('11-attendance-phone');
    const [att] = await Promise.all([page.waitForEvent('download'), page.click('#attendance-csv')]);
    expect(readFileSync(await att.path(), 'utf8')).toMatch(/Amy Farrah,\d{4}-\d{2}-\d{2}T/);
  });

  it('changes a setting with validation, then signs out', async () => {
    await page.goto(url + '/#/settings');
    await page.waitForSelector('#settings-recognition');
    // read-only: the threshold in force, from the default embedder's calibration for the one person enrolled
    await expect.poll(() => page.textContent('#operating-point')).toContain(`Threshold${doorThreshold(1).toFixed(4)} (calibrated)`);
    expect(await page.inputValue('#set-access-threshold')).toBe(''); // no override: calibrated
    expect(await page.inputValue('#set-access-securityLevel')).toBe('standard');
    await page.fill('#set-access-threshold', '1.7');
    await page.click('#settings-recognition button[type=submit]');
    await expect.poll(() => page.textContent('#settings-recognition .error')).toMatch(/access\.threshold: got 1\.7/);
    await shot('12-settings-error-phone');
    await page.fill('#set-access-threshold', '0.93');
    await page.click('#settings-recognition button[type=submit]');
    await expect.poll(() => page.textContent('#toast')).toBe('Saved and applied');
    await page.reload();
    await page.waitForSelector('#set-access-threshold');
    expect(await page.inputValue('#set-access-threshold')).toBe('0.93');
    // the override applies at once, and the operating point says where its threshold comes from
    await expect.poll(() => page.textContent('#operating-point')).toContain('Threshold0.9300 (set in access.threshold)');
    await page.goto(url + '/#/health');
    await page.waitForSelector('#health-status');
    await shot('13-health-phone');
    await page.click('#nav a.more-nav');
    await shot('14-more-phone');
    await page.click('#logout-more');
    await page.waitForSelector('#login-form');
    // Signed out on the server too: the API refuses the old cookie.
    const r = await page.evaluate(async () => (await fetch('/api/v1/people')).status);
    expect(r).toBe(401);
  });
});
