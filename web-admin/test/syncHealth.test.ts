import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { type Browser, type Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createLogger } from '../../daemon/src/logging.js';
import { PeopleTable } from '../../daemon/src/registry/peopleTable.js';
import { UnitSyncStore } from '../../daemon/src/sync/unitSyncStore.js';
import { Client, startAdmin, type Harness } from '../../daemon/test/admin/adminHarness.js';
import { tempDir } from '../../daemon/test/helpers/blinkd.js';
import { freePort } from '../../daemon/test/mqtt/broker.js';
import { buildUi, launchBrowser, haveChromium, phonePage, SHOTS, signIn } from './browser.js';

/**
 * The admin's Health page shows the unit's sync state in words (the Sync card, from /health
 * services.sync) for a unit whose sync server cannot be reached: last synced never, the last
 * error, what waits to be sent. The Attendance page's Sync column says, per row, synced, pending
 * or failed with the reason, and filters by it. The UI is bundled from web-admin/src (tests the current source).
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
    await buildUi(ui.dir);
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
    page = await phonePage(browser);
    await signIn(page, h.url, 'facilities', 'correct horse battery');
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

  it('the Attendance page shows each row synced, pending or failed with the reason, and filters by it', async () => {
    const store = h.unit.store;
    const people = new PeopleTable(store.db);
    const day = new Date().toISOString().slice(0, 10);
    const record = (name: string, time: string) =>
      store.transaction(() => {
        const p = people.create({ name });
        const ts = `${day}T${time}:00.000Z`;
        const e = store.events.insert({ result: 'GRANTED', reason: 'match', personId: p.id, personName: name, score: 0.95, margin: 0.2, ts });
        store.attendance.add({ personId: p.id, day, kind: 'CHECK_IN', status: 'ON_TIME', ts, eventId: e.id });
        store.syncOutbox.attendanceRecorded({ id: e.id, personId: p.id, timestamp: ts, kind: 'CHECK_IN', punctuality: 'ON_TIME' });
      });
    record('Ada Synced', '00:01');
    record('Bob Failed', '00:02');
    record('Cy Pending', '00:03');
    // Ada's row delivered, then a round carrying Bob's failed (the unit's own ack and failure paths).
    const local = new UnitSyncStore(store, h.unit.registry, 'front-door', createLogger('silent'));
    const first = local.nextOutboxBatch(1);
    local.ack(first.attendance.map((a) => a.outboxId));
    local.nextOutboxBatch(1);
    local.failed('sync server rejected the request (422): timestamp is in the future');

    await page.goto(h.url + `/#/attendance?from=${day}&to=${day}`);
    await expect.poll(() => page.textContent('#attendance-table')).toContain('Cy Pending');
    const rows = async () =>
      page.$$eval('#attendance-table tbody tr', (trs) => trs.map((tr) => [tr.children[1]?.textContent ?? '', tr.querySelector('td.sync')?.textContent ?? '']));
    expect(await rows()).toEqual([
      ['Ada Synced', 'synced'],
      ['Bob Failed', 'failed sync server rejected the request (422): timestamp is in the future'],
      ['Cy Pending', 'pending'],
    ]);
    expect(await page.textContent('#attendance-table thead')).toContain('Sync');
    await page.screenshot({ path: join(SHOTS, '31-attendance-sync-phone.png'), fullPage: true });

    await page.selectOption('select[name=sync]', 'failed');
    await expect.poll(rows).toEqual([['Bob Failed', 'failed sync server rejected the request (422): timestamp is in the future']]);
    expect(page.url()).toContain('sync=failed');
  });
});
