import { mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { type Browser, type Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { PeopleTable } from '../../daemon/src/registry/peopleTable.js';
import { Client, startAdmin, type Harness } from '../../daemon/test/admin/adminHarness.js';
import { tempDir } from '../../daemon/test/helpers/blinkd.js';
import { buildUi, launchBrowser, haveChromium, PHONE, phonePage, SHOTS, signIn } from './browser.js';

/**
 * The People page at site scale in headless Chromium on a 390 px phone: 2,143 people, paged
 * 100 at a time with "101–200 of 2,143", the page kept in the URL (reload, back, forward),
 * the status filter and search (which go back to page 1), no sideways scrolling.
 * The UI is bundled from web-admin/src into a temp dir, so this tests the current source.
 */

const N = 2143;
const FIRST = ['Ann', 'Bo', 'Carl', 'Dana', 'Eve', 'Finn', 'Gus', 'Hana', 'Ivo', 'Jan', 'Kim', 'Lea', 'Mo', 'Nia', 'Ole', 'Pia', 'Rui', 'Sam', 'Tove', 'Uma'];
const LAST = ['Abbott', 'Berg', 'Chen', 'Diaz', 'Engel', 'Fox', 'Grant', 'Holm', 'Ito', 'Jensen', 'Khan', 'Lund', 'Moss', 'Nagy', 'Ortiz', 'Park', 'Ruiz'];

describe.runIf(haveChromium)('people list paging in a browser (phone)', () => {
  const ui = tempDir('blink-ui-');
  let h: Harness;
  let browser: Browser;
  let page: Page;
  let deactivated = 0;

  const names = () => page.$$eval('#people-list li strong', (els) => els.map((e) => e.textContent ?? ''));
  const rangeIs = (text: string) => expect.poll(() => page.textContent('#people-range')).toBe(text);

  beforeAll(async () => {
    mkdirSync(SHOTS, { recursive: true });
    await buildUi(ui.dir);

    h = await startAdmin({}, { uiDir: ui.dir });
    const store = h.unit.store;
    const people = new PeopleTable(store.db);
    store.transaction(() => {
      for (let i = 0; i < N; i++) {
        const status = i % 7 === 3 ? 'DEACTIVATED' : 'ACTIVE';
        if (status === 'DEACTIVATED') deactivated++;
        people.create({ name: `${FIRST[i % FIRST.length]} ${LAST[(i * 3) % LAST.length]} ${String(i).padStart(4, '0')}`, status });
      }
    });
    expect(await new Client(h.url).setup(h.setupToken(), 'facilities', 'correct horse battery')).toBe(200);

    browser = await launchBrowser();
    page = await phonePage(browser);
    await signIn(page, h.url, 'facilities', 'correct horse battery');
  }, 120_000);

  afterAll(async () => {
    await browser?.close().catch(() => {});
    await h?.close();
    ui.cleanup();
  });

  it('pages to page 2 and sees different names; reload, back and forward keep the page', async () => {
    await page.click('#nav a[href="#/people"]');
    await rangeIs(`1–100 of ${N.toLocaleString('en-US')}`);
    const page1 = await names();
    expect(page1).toHaveLength(100);
    expect(page1[0]).toBe('Ann Abbott 0000');
    expect(await page.isDisabled('.pager[data-where=top] .prev')).toBe(true);

    await page.click('.pager[data-where=bottom] .next');
    await rangeIs('101–200 of 2,143');
    const page2 = await names();
    expect(page2).toHaveLength(100);
    expect(page2.filter((n) => page1.includes(n))).toEqual([]);
    expect([...page1, ...page2]).toEqual([...page1, ...page2].sort((a, b) => (a.toLowerCase() < b.toLowerCase() ? -1 : 1)));
    expect(page.url()).toMatch(/#\/people\?after=/);
    expect(await page.evaluate(() => document.documentElement.scrollWidth)).toBeLessThanOrEqual(PHONE.width);
    await page.screenshot({ path: join(SHOTS, 'people-page2-phone.png') });

    await page.reload();
    await rangeIs('101–200 of 2,143');
    expect(await names()).toEqual(page2);
    await page.click('.pager[data-where=top] .next');
    await rangeIs('201–300 of 2,143');
    const page3 = await names();
    await page.goBack();
    await rangeIs('101–200 of 2,143');
    expect(await names()).toEqual(page2);
    await page.goBack();
    await rangeIs('1–100 of 2,143');
    expect(await names()).toEqual(page1);
    await page.goForward();
    await page.goForward();
    await rangeIs('201–300 of 2,143');
    expect(await names()).toEqual(page3);
    await page.click('.pager[data-where=top] .prev');
    await rangeIs('101–200 of 2,143');
    expect(await names()).toEqual(page2);
  });

  it('filters by status and searches from page 1; the filter stays in the URL', async () => {
    await page.selectOption('#people-status', 'DEACTIVATED');
    await rangeIs(`1–100 of ${deactivated}`);
    expect(await page.$$eval('#people-list .badge', (els) => [...new Set(els.map((e) => e.textContent))])).toEqual(['deactivated']);
    expect(page.url()).toMatch(/status=DEACTIVATED/);
    expect(page.url()).not.toMatch(/after=/);

    await page.click('.pager[data-where=bottom] .next');
    await rangeIs(`101–200 of ${deactivated}`);
    // Search resets to page 1 and combines with the status filter: "ann" is 1 first name in 20.
    await page.fill('#people-search', 'ann');
    const annDeactivated = Array.from({ length: N }, (_, i) => i).filter((i) => i % 7 === 3 && i % FIRST.length === 0).length;
    await rangeIs(`1–${annDeactivated} of ${annDeactivated}`);
    expect(page.url()).toMatch(/search=ann/);
    expect(await page.isHidden('.pager[data-where=top]')).toBe(true); // one page: no paging controls
    for (const n of await names()) expect(n).toMatch(/^Ann /);
    await page.reload();
    await rangeIs(`1–${annDeactivated} of ${annDeactivated}`);
    expect(await page.inputValue('#people-search')).toBe('ann');
    expect(await page.inputValue('#people-status')).toBe('DEACTIVATED');
    await page.screenshot({ path: join(SHOTS, 'people-filtered-phone.png') });

    await page.fill('#people-search', '');
    await page.selectOption('#people-status', '');
    await rangeIs('1–100 of 2,143');
  });
});
