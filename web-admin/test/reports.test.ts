import { mkdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import ExcelJS from 'exceljs';
import { DateTime } from 'luxon';
import { type Browser, type BrowserContext, type Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { PeopleTable } from '../../daemon/src/registry/peopleTable.js';
import { Client, startAdmin, type Harness } from '../../daemon/test/admin/adminHarness.js';
import { tempDir } from '../../daemon/test/helpers/blinkd.js';
import { buildUi, launchBrowser, haveChromium, PHONE, SHOTS, signIn } from './browser.js';

/**
 * The attendance dashboard and timesheets in headless Chromium, as a viewer and as an admin, on
 * a unit in Europe/Berlin with a seeded week (relative to today) and a seeded October 2026 (the
 * month DST ends, on Sunday 25 October): the charts' number tables hold the hand-counted values,
 * the month timesheet of one person matches a hand-computed one (a missing check-out, a night
 * across the DST change, late arrivals), and the CSV and XLSX exports read back (exceljs) hold
 * the same rows. The UI is bundled from web-admin/src into a temp dir (tests the current source).
 */

const TZ = 'Europe/Berlin';
const PASSWORD = 'correct horse battery';

describe.runIf(haveChromium)('attendance dashboard and timesheets in a browser', () => {
  const ui = tempDir('blink-ui-');
  let h: Harness;
  let browser: Browser;
  let ids: string[] = [];
  let ana = '';
  const today = DateTime.now().setZone(TZ).toISODate()!;
  const dayBefore = (n: number) => DateTime.fromISO(today).minus({ days: n }).toISODate()!;

  /** A grant at local `hhmm` on `day` with its attendance row (kind) and the decider's latency. */
  const grant = (pid: string, day: string, hhmm: string, kind: 'CHECK_IN' | 'CHECK_OUT' | null, latencyMs = 500, late = false) => {
    const ts = DateTime.fromISO(`${day}T${hhmm}`, { zone: TZ }).toUTC().toISO()!;
    const e = h.unit.store.events.insert({ result: 'GRANTED', reason: 'match', personId: pid, source: 'camera', ts, details: { latencyMs } });
    if (kind) h.unit.store.attendance.add({ personId: pid, day, kind, status: kind === 'CHECK_IN' ? (late ? 'LATE' : 'ON_TIME') : null, ts, eventId: e.id });
  };
  const deny = (day: string, hhmm: string, reason: string) =>
    h.unit.store.events.insert({ result: 'DENIED', reason, source: 'camera', ts: DateTime.fromISO(`${day}T${hhmm}`, { zone: TZ }).toUTC().toISO()! });
  /** A UTC instant for a test's hand computation. */
  const utc = (iso: string) => DateTime.fromISO(iso, { setZone: true }).toUTC().toISO()!;

  const login = async (context: BrowserContext, user: string): Promise<Page> => {
    const page = await context.newPage();
    await signIn(page, h.url, user, PASSWORD);
    return page;
  };
  /** A chart's number table as rows of cell texts (the row header first). */
  const table = (page: Page, chart: string) =>
    page.$$eval(`#${chart} table.chart-table tbody tr`, (rows) => rows.map((r) => [...r.children].map((c) => c.textContent ?? '')));

  beforeAll(async () => {
    mkdirSync(SHOTS, { recursive: true });
    await buildUi(ui.dir);
    h = await startAdmin({ unit: { timezone: TZ } }, { uiDir: ui.dir });
    const people = new PeopleTable(h.unit.store.db);
    const store = h.unit.store;
    store.transaction(() => {
      ids = ['P0 Ada', 'P1 Ben', 'P2 Cleo', 'P3 Dan', 'P4 Eva'].map((name) => people.create({ name }).id);
      ana = people.create({ name: 'Ana October', validFrom: '2026-10-01', validUntil: '2026-10-31' }).id;
      const [p0, p1, p2, p3, p4] = ids as [string, string, string, string, string];
      // Today: 3 check-ins in the 08 hour, 2 in the 09 hour (P4 late by 30 min); P0 checked out.
      grant(p0, today, '08:10', 'CHECK_IN', 400);
      grant(p1, today, '08:40', 'CHECK_IN', 600);
      grant(p2, today, '08:50', 'CHECK_IN', 800);
      grant(p3, today, '09:05', 'CHECK_IN', 500);
      grant(p4, today, '09:30', 'CHECK_IN', 700, true);
      grant(p0, today, '17:00', 'CHECK_OUT', 300);
      // The week before: late 15 min yesterday, 60 + 45 min two days ago.
      grant(p0, dayBefore(1), '09:15', 'CHECK_IN', 500, true);
      grant(p1, dayBefore(1), '08:00', 'CHECK_IN');
      grant(p2, dayBefore(2), '10:00', 'CHECK_IN', 500, true);
      grant(p3, dayBefore(2), '09:45', 'CHECK_IN', 500, true);
      // The same weekday 1-4 weeks ago: 4 check-ins at 08, 4 at 09 → usual 1 and 1.
      grant(p0, dayBefore(7), '08:30', 'CHECK_IN');
      grant(p1, dayBefore(7), '09:20', 'CHECK_IN', 500, true);
      grant(p0, dayBefore(14), '08:30', 'CHECK_IN');
      grant(p1, dayBefore(14), '08:45', 'CHECK_IN');
      grant(p0, dayBefore(21), '09:00', 'CHECK_IN');
      grant(p0, dayBefore(28), '08:15', 'CHECK_IN');
      grant(p1, dayBefore(28), '09:05', 'CHECK_IN');
      grant(p2, dayBefore(28), '09:50', 'CHECK_IN', 500, true);
      // Denied: 3 liveness + 2 unknown today, 1 unknown yesterday, 1 below threshold 3 days ago; 5 unknown 8 days ago (outside 7 days).
      for (let i = 0; i < 3; i++) deny(today, '10:0' + i, 'liveness_failed');
      deny(today, '11:00', 'unknown');
      deny(today, '11:01', 'unknown');
      deny(dayBefore(1), '12:00', 'unknown');
      deny(dayBefore(3), '12:00', 'below_threshold');
      for (let i = 0; i < 5; i++) deny(dayBefore(8), '12:0' + i, 'unknown');

      // October 2026 for Ana (no schedule: Mon-Fri expected; valid 1-31 October only).
      grant(ana, '2026-10-01', '08:55', 'CHECK_IN');
      grant(ana, '2026-10-01', '12:30', 'CHECK_OUT'); // lunch: the last check-out counts
      grant(ana, '2026-10-01', '17:05', 'CHECK_OUT');
      grant(ana, '2026-10-02', '09:25', 'CHECK_IN', 500, true);
      grant(ana, '2026-10-02', '17:00', 'CHECK_OUT');
      grant(ana, '2026-10-05', '09:10', 'CHECK_IN'); // exactly at the grace limit: on time
      grant(ana, '2026-10-05', '18:10', 'CHECK_OUT');
      grant(ana, '2026-10-06', '08:50', 'CHECK_IN'); // no check-out
      grant(ana, '2026-10-08', '09:11', 'CHECK_IN', 500, true);
      grant(ana, '2026-10-08', '17:11', 'CHECK_OUT');
      // Sunday 25 October, the DST day: 00:30 CEST (22:30Z the day before) to 06:30 CET = 7 real hours (6 on the clock).
      grant(ana, '2026-10-25', '00:30', 'CHECK_IN');
      grant(ana, '2026-10-25', '06:30', 'CHECK_OUT');
      grant(ana, '2026-10-26', '09:20', 'CHECK_IN', 500, true); // CET: 08:20Z, late 20 min
      grant(ana, '2026-10-26', '17:20', 'CHECK_OUT');
    });
    const c = new Client(h.url);
    expect(await c.setup(h.setupToken(), 'facilities', PASSWORD)).toBe(200);
    expect((await c.req('POST', '/api/v1/users', { username: 'hr-viewer', password: PASSWORD, role: 'viewer' })).status).toBe(200);
    browser = await launchBrowser();
  }, 120_000);

  afterAll(async () => {
    await browser?.close().catch(() => {});
    await h?.close();
    ui.cleanup();
  });

  it('the 25 October DST day is 25 hours long and its check-in belongs to that local day', () => {
    expect(utc('2026-10-25T00:30:00+02:00')).toBe('2026-10-24T22:30:00.000Z');
    const row = h.unit.store.attendance.forPersonDay(ana, '2026-10-25')[0]!;
    expect(row.ts).toBe('2026-10-24T22:30:00.000Z');
  });

  it('viewer: the dashboard charts hold the seeded numbers (phone, light and dark)', async () => {
    const context = await browser.newContext({ viewport: PHONE, deviceScaleFactor: 1, isMobile: true, hasTouch: true, locale: 'en-GB', colorScheme: 'dark' });
    const page = await login(context, 'hr-viewer');
    await page.waitForSelector('#chart-checkins canvas');
    await page.waitForSelector('#chart-health canvas');

    const perHour = await table(page, 'chart-checkins');
    // 24 rows (23 or 25 on a DST day); the 08 and 09 rows hold today's and the usual counts.
    const row = (rows: string[][], label: string) => rows.find((r) => r[0] === label);
    expect(row(perHour, '08:00')).toEqual(['08:00', '3', '1']);
    expect(row(perHour, '09:00')).toEqual(['09:00', '2', '1']);
    expect(perHour.filter((r) => r[0] !== '08:00' && r[0] !== '09:00').every((r) => r[1] === '0' && r[2] === '0')).toBe(true);

    const late = await table(page, 'chart-late');
    expect(late).toHaveLength(30);
    const lateOf = (n: number) => late[29 - n]!.slice(1);
    expect(lateOf(0)).toEqual(['1', '5', '30']); // [late, checked in, late minutes]
    expect(lateOf(1)).toEqual(['1', '2', '15']);
    expect(lateOf(2)).toEqual(['2', '2', '105']);
    expect(lateOf(7)).toEqual(['1', '2', '20']);
    expect(lateOf(28)).toEqual(['1', '3', '50']);
    expect(lateOf(3)).toEqual(['0', '0', '0']);

    expect(await page.textContent('#present-count')).toBe('4');
    expect(await page.$$eval('#present-list li .grow', (els) => els.map((e) => e.textContent))).toEqual(['P1 Ben', 'P2 Cleo', 'P3 Dan', 'P4 Eva']);

    const denied = await table(page, 'chart-denied');
    expect(denied).toHaveLength(7);
    const headers = await page.$$eval('#chart-denied thead th', (els) => els.map((e) => e.textContent));
    expect(headers).toEqual(['Day', 'liveness failed', 'unknown', 'below threshold']);
    expect(denied[6]!.slice(1)).toEqual(['3', '2', '0']); // today
    expect(denied[5]!.slice(1)).toEqual(['0', '1', '0']); // yesterday
    expect(denied[3]!.slice(1)).toEqual(['0', '0', '1']);
    expect(await page.textContent('#denied-totals')).toBe('liveness failed: 3 · unknown: 3 · below threshold: 1');

    const health = await table(page, 'chart-health');
    expect(row(health, '08:00')).toEqual(['08:00', '3', '0', '600']);
    expect(row(health, '09:00')).toEqual(['09:00', '2', '0', '600']);
    expect(row(health, '10:00')).toEqual(['10:00', '0', '3', '—']);
    expect(row(health, '17:00')).toEqual(['17:00', '1', '0', '300']);
    expect(await page.textContent('#chart-health figcaption')).toContain('median unlock latency 550 ms');

    // Readable at 390 px: no sideways scrolling, the canvases fit the card.
    expect(await page.evaluate(() => document.documentElement.scrollWidth)).toBeLessThanOrEqual(PHONE.width);
    const widths = await page.$$eval('.chart-plot canvas', (els) => els.map((e) => e.getBoundingClientRect().width));
    expect(widths.length).toBe(4);
    for (const w of widths) expect(w).toBeLessThanOrEqual(PHONE.width);
    await page.waitForTimeout(300);
    await page.screenshot({ path: join(SHOTS, 'dashboard-trends-phone-dark.png'), fullPage: true });
    await page.emulateMedia({ colorScheme: 'light' });
    await page.reload();
    await page.waitForSelector('#chart-late canvas');
    await page.waitForTimeout(300);
    await page.screenshot({ path: join(SHOTS, 'dashboard-trends-phone.png'), fullPage: true });
    // A viewer may read reports but not change the rules.
    const r = await page.evaluate(async () => (await fetch('/api/v1/reports/timesheet?period=day')).status);
    expect(r).toBe(200);
    await context.close();
  });

  it("admin: Ana's October timesheet matches the hand-computed one (missing check-out, DST night, late minutes)", async () => {
    const context = await browser.newContext({ viewport: PHONE, deviceScaleFactor: 1, isMobile: true, hasTouch: true, locale: 'en-GB', acceptDownloads: true });
    const page = await login(context, 'facilities');
    await page.goto(`${h.url}/#/reports?personId=${ana}&period=month&day=2026-10-15`);
    await page.waitForSelector('#timesheet-table');
    expect(await page.textContent('#report-title')).toBe('Ana October: 2026-10-01 to 2026-10-31');
    expect(await page.textContent('#report-rules')).toContain('Reports recompute');
    const rows = await page.$$eval('#timesheet-table tbody tr[data-day]', (trs) =>
      trs.map((tr) => [...tr.querySelectorAll('td')].map((td) => td.textContent ?? '')),
    );
    const byDay = new Map(rows.map((r) => [r[0]!.slice(4), r.slice(1)]));
    // [first in, last out, hours, late minutes, note]
    expect(byDay.get('2026-10-01')).toEqual(['08:55', '17:05', '8:10', '', '']);
    expect(byDay.get('2026-10-02')).toEqual(['09:25', '17:00', '7:35', '25', '']);
    expect(byDay.get('2026-10-05')).toEqual(['09:10', '18:10', '9:00', '', '']);
    expect(byDay.get('2026-10-06')).toEqual(['08:50', '—', '—', '', 'no check-out (0 h)']);
    expect(byDay.get('2026-10-07')).toEqual(['—', '—', '—', '', 'absent']);
    expect(byDay.get('2026-10-08')).toEqual(['09:11', '17:11', '8:00', '11', '']);
    expect(byDay.get('2026-10-25')).toEqual(['00:30', '06:30', '7:00', '', 'unscheduled day']);
    expect(byDay.get('2026-10-26')).toEqual(['09:20', '17:20', '8:00', '20', '']);
    // 22 weekdays expected + the worked Sunday; 16 absences (22 - 6 weekdays worked).
    expect(rows).toHaveLength(23);
    expect(rows.filter((r) => r[5] === 'absent')).toHaveLength(16);
    // 490 + 455 + 540 + 0 + 480 + 420 + 480 = 2865 min = 47:45
    expect(await page.textContent('#report-totals')).toBe('Present 7 of 22 scheduled days · 47:45 h · late 3× (56 min) · absent 16 · no check-out 1');
    await page.screenshot({ path: join(SHOTS, 'timesheet-phone.png'), fullPage: true });

    // CSV export (streamed), read back.
    const [csvDl] = await Promise.all([page.waitForEvent('download'), page.click('#export-csv')]);
    expect(csvDl.suggestedFilename()).toBe('timesheet-2026-10-01_2026-10-31.csv');
    const csv = readFileSync(await csvDl.path(), 'utf8')
      .trimEnd()
      .split('\r\n');
    expect(csv[0]).toBe(
      'day,weekday,person_id,person_name,scheduled,first_in,last_out,hours_present,no_check_out,still_in,late,late_minutes,absent,time_zone,period',
    );
    expect(csv).toHaveLength(24);
    expect(csv).toContain(`2026-10-06,tue,${ana},Ana October,yes,2026-10-06 08:50,,0,yes,no,no,0,no,Europe/Berlin,2026-10-01..2026-10-31`);
    expect(csv).toContain(`2026-10-25,sun,${ana},Ana October,no,2026-10-25 00:30,2026-10-25 06:30,7,no,no,no,0,no,Europe/Berlin,2026-10-01..2026-10-31`);
    expect(csv).toContain(`2026-10-26,mon,${ana},Ana October,yes,2026-10-26 09:20,2026-10-26 17:20,8,no,no,yes,20,no,Europe/Berlin,2026-10-01..2026-10-31`);
    await expect.poll(() => page.textContent('#export-progress')).toMatch(/^Exported timesheet-2026-10-01_2026-10-31\.csv/);

    // XLSX export, read back with exceljs.
    const [xlsxDl] = await Promise.all([page.waitForEvent('download'), page.click('#export-xlsx')]);
    expect(xlsxDl.suggestedFilename()).toBe('timesheet-2026-10-01_2026-10-31.xlsx');
    const wb = new ExcelJS.Workbook();
    await wb.xlsx.readFile(await xlsxDl.path());
    const sheet = wb.getWorksheet('Timesheet')!;
    expect(sheet.getRow(2).values).toEqual([undefined, 'Period', '2026-10-01', '2026-10-31']);
    expect(sheet.getRow(3).values).toEqual([undefined, 'Time zone', 'Europe/Berlin']);
    expect((sheet.getRow(5).values as unknown[]).slice(1, 4)).toEqual(['day', 'weekday', 'person_id']);
    const data: unknown[][] = [];
    sheet.eachRow((r, n) => {
      if (n > 5) data.push((r.values as unknown[]).slice(1));
    });
    expect(data).toHaveLength(23);
    expect(data.find((r) => r[0] === '2026-10-25')).toEqual([
      '2026-10-25',
      'sun',
      ana,
      'Ana October',
      'no',
      '2026-10-25 00:30',
      '2026-10-25 06:30',
      7,
      'no',
      'no',
      'no',
      0,
      'no',
    ]);
    expect(data.find((r) => r[0] === '2026-10-02')!.slice(10, 12)).toEqual(['yes', 25]);
    const summary = wb.getWorksheet('Summary')!;
    const oct25: unknown[] = [];
    summary.eachRow((r) => {
      if ((r.values as unknown[])[1] === '2026-10-25') oct25.push(...(r.values as unknown[]).slice(1));
    });
    expect(oct25).toEqual(['2026-10-25', 'sun', 0, 1, 0, 0, 0, 0, 7]);
    expect(wb.getWorksheet('Rules')!.getRow(1).values).toEqual([undefined, 'Shift start', '09:00']);
    await context.close();
  });

  it('admin: the per-day summary for everyone and the events filters stay in the URL', async () => {
    const context = await browser.newContext({ viewport: PHONE, deviceScaleFactor: 1, isMobile: true, hasTouch: true, locale: 'en-GB' });
    const page = await login(context, 'facilities');
    await page.goto(`${h.url}/#/reports?period=custom&from=2026-10-05&to=2026-10-07`);
    await page.waitForSelector('#summary-table');
    const rows = await page.$$eval('#summary-table tbody tr', (trs) => trs.map((tr) => [...tr.querySelectorAll('td')].map((td) => td.textContent ?? '')));
    // The five seeded today-people have no schedule and no validity dates: expected Mon-Fri too.
    expect(rows).toEqual([
      ['mon 2026-10-05', '6', '1', '0', '0', '5', '0', '9:00'],
      ['tue 2026-10-06', '6', '1', '0', '0', '5', '1', '0:00'],
      ['wed 2026-10-07', '6', '0', '0', '0', '6', '0', '0:00'],
    ]);
    // The person picker's search narrows the names and keeps the chosen person.
    await page.goto(`${h.url}/#/reports?personId=${ana}&period=month&day=2026-10-15`);
    await page.waitForSelector('#timesheet-table');
    await page.fill('#report-person-search', 'cleo');
    await expect
      .poll(() => page.$$eval('#report-person option', (os) => os.map((o) => o.textContent)))
      .toEqual(['Everyone (per-day summary)', 'P2 Cleo', 'Ana October']);
    expect(await page.inputValue('#report-person')).toBe(ana);
    await page.goto(`${h.url}/#/events?result=DENIED&reason=liveness_failed&from=${today}&to=${today}`);
    await expect.poll(() => page.$$eval('#events-list li.event', (els) => els.length)).toBe(3);
    expect(await page.inputValue('select[name=reason]')).toBe('liveness_failed');
    await page.selectOption('select[name=reason]', 'unknown');
    await expect.poll(() => page.$$eval('#events-list li.event', (els) => els.length)).toBe(2);
    expect(page.url()).toContain('reason=unknown');
    await page.reload();
    await expect.poll(() => page.$$eval('#events-list li.event', (els) => els.length)).toBe(2);
    expect(await page.inputValue('select[name=result]')).toBe('DENIED');
    await context.close();
  });
});
