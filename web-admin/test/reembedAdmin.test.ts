import { existsSync, mkdirSync, readFileSync } from 'node:fs';
import { basename, join } from 'node:path';
import { type Browser, type Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { EnrollClient } from '../../daemon/src/admin/enrollClient.js';
import { parseConfig } from '../../daemon/src/config/load.js';
import { createLogger } from '../../daemon/src/logging.js';
import { enrollFromPhotos } from '../../daemon/src/registry/enrollFromPhotos.js';
import { Reembedder } from '../../daemon/src/registry/reembedder.js';
import { testDataDir } from '../../daemon/src/system/paths.js';
import { pipelineOptions } from '../../daemon/src/vision/pipelineOptions.js';
import { Client, startAdmin, type Harness } from '../../daemon/test/admin/adminHarness.js';
import { tempDir } from '../../daemon/test/helpers/blinkd.js';
import { buildUi, launchBrowser, haveChromium, phonePage, SHOTS, signIn } from './browser.js';

const FACES = join(testDataDir(), 'faces');
const haveData = existsSync(join(FACES, 'amy', 'amy1.png'));
if (!haveData && process.env.CI) throw new Error(`test data missing at ${FACES} (set BLINK_TEST_DATA)`);

const photos = (...paths: string[]) => paths.map((p) => ({ name: basename(p), data: readFileSync(join(FACES, p)) }));
const worker = (recognitionModel: string) =>
  new EnrollClient(() => pipelineOptions(parseConfig({ vision: { recognitionModel } }, 'test').vision, { passive: false }));

/**
 * The admin during an embedder switch: people enrolled under face-api's ResNet carry the
 * "re-enrollment needed" badge until the re-embedder (real enrollment worker, real models) has
 * given them MobileFaceNet-512 templates from their chips; the people page and the Health page
 * show its progress from /health services.reembed; a person without chips keeps the badge.
 */
describe.runIf(haveChromium && haveData)('re-embedding progress in the admin (phone)', () => {
  const ui = tempDir('blink-ui-');
  let h: Harness;
  let browser: Browser;
  let page: Page;
  const a = worker('faceapi-resnet');
  const b = worker('mobilefacenet512');
  let reembedder: Reembedder;

  beforeAll(async () => {
    mkdirSync(SHOTS, { recursive: true });
    await buildUi(ui.dir);
    h = await startAdmin({}, { uiDir: ui.dir });
    expect(await new Client(h.url).setup(h.setupToken(), 'facilities', 'correct horse battery')).toBe(200);

    // Enrolled under the old embedder: Amy from photos (with chips), Jack as before chips were kept.
    const registry = h.unit.registry;
    await enrollFromPhotos((imgs) => a.analyzePhotos(imgs), registry, {
      person: { name: 'Amy Farrah' },
      images: photos('amy/amy1.png', 'amy/amy2.png'),
      source: 'upload',
      actor: 'test',
      duplicateThreshold: 1.01,
      keepThumbnail: false,
    });
    const jack = await a.analyzePhotos(photos('deepface_jack/img16.jpg'));
    registry.enroll({
      person: { name: 'Jack Nochips' },
      faces: jack.faces.map((f) => ({ embedding: f.embedding, quality: f.quality.overall })),
      modelId: jack.modelId,
      source: 'cli',
      duplicateThreshold: 1.01,
      actor: 'test',
    });
    await a.stop();
    // The unit now runs MobileFaceNet-512 (this harness has no vision service: the registry is told directly).
    registry.activate('mobilefacenet512-int8', 512);
    reembedder = new Reembedder(
      registry,
      (chips) => b.embedChips(chips),
      h.unit.bus,
      createLogger('silent'),
      () => 0.6,
      () => b.stop(),
    );
    h.unit.services.push(reembedder); // reported on /health like every service

    browser = await launchBrowser();
    page = await phonePage(browser);
    await signIn(page, h.url, 'facilities', 'correct horse battery');
  }, 120_000);

  afterAll(async () => {
    await browser?.close().catch(() => {});
    await reembedder?.stop();
    await a.stop();
    await h?.close();
    ui.cleanup();
  });

  const badges = () =>
    page.$$eval('#people-list li', (lis) =>
      lis.map((li) => [
        li.querySelector('strong')?.textContent ?? '',
        li.querySelector('.small.muted')?.textContent ?? '',
        Boolean(li.querySelector('.reenroll')),
      ]),
    );

  it('before: both flagged, no progress line; after the re-embedder ran: Amy moved (1 of 1), Jack still flagged, Health shows the run', async () => {
    await page.goto(h.url + '/#/people');
    await expect.poll(badges).toEqual([
      ['Amy Farrah', '2 photos', true],
      ['Jack Nochips', '1 photo', true],
    ]);
    expect(await page.isHidden('#reembed-progress')).toBe(true);

    await reembedder.start();
    expect(await reembedder.idle()).toMatchObject({ model: 'mobilefacenet512-int8', state: 'done', total: 1, done: 1, failed: 0 });

    await page.reload();
    // two photos still (each has a template of both models now)
    await expect.poll(badges).toEqual([
      ['Amy Farrah', '2 photos', false],
      ['Jack Nochips', '1 photo', true],
    ]);
    await expect.poll(() => page.textContent('#reembed-progress')).toBe('Enrolled faces moved to the face model mobilefacenet512-int8: 1 of 1 people');
    await page.screenshot({ path: join(SHOTS, '40-people-reembedded-phone.png'), fullPage: true });

    await page.goto(h.url + '/#/health');
    await expect.poll(async () => (await page.textContent('body')) ?? '').toContain('done for mobilefacenet512-int8: 1 of 1 people, 0 failed');
  }, 120_000);
});
