import { afterEach, describe, expect, it } from 'vitest';
import { spawnSync } from 'node:child_process';
import { existsSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import sharp from 'sharp';
import { openDatabase } from '../../src/store/database.js';
import { testDataDir } from '../../src/system/paths.js';
import { BLINKD, tempDir } from '../helpers/blinkd.js';

const DATA = testDataDir();
const PHOTO = join(DATA, 'faces', 'biden', 'biden2.jpg'); // 1200 × 1200
const cleanups: Array<() => void> = [];
afterEach(() => {
  for (const c of cleanups.splice(0).reverse()) c();
});

function enroll(photo: string): Buffer {
  const t = tempDir('blink-thumb-');
  cleanups.push(t.cleanup);
  const baseEnv = Object.fromEntries(Object.entries(process.env).filter(([k]) => !k.startsWith('BLINK_')));
  const r = spawnSync(process.execPath, [BLINKD, 'enroll', '--name', 'Photo Person', photo], {
    cwd: t.dir,
    env: { ...baseEnv, BLINK_STORE__DATA_DIR: t.dir },
    encoding: 'utf8',
  });
  expect(r.status, r.stderr).toBe(0);
  const db = openDatabase(join(t.dir, 'blink.db'), { readonly: true });
  try {
    return (db.prepare('SELECT jpeg FROM face_thumbnails').get() as { jpeg: Buffer }).jpeg;
  } finally {
    db.close();
  }
}

async function pixels(jpeg: Buffer): Promise<Buffer> {
  return sharp(jpeg).resize(112, 112).removeAlpha().raw().toBuffer();
}

/**
 * Hardening item 9: photos over 1920 px are downscaled for analysis, and the face box found
 * there was applied to the original photo, so a phone photo (4032 × 3024) got a thumbnail of
 * hair or background. The thumbnail of the same face must not depend on the photo's size.
 */
describe('thumbnails of large photos', () => {
  it('a 4032 × 3024 photo gets the same face thumbnail as the 1200 px original', async () => {
    if (!existsSync(PHOTO)) {
      if (process.env.CI) throw new Error(`shared test data missing: ${PHOTO}`);
      return;
    }
    const t = tempDir('blink-thumb-src-');
    cleanups.push(t.cleanup);
    const big = join(t.dir, 'phone.jpg');
    // scaled ×2.52 to 3024 high, then widened to 4032 with a plain background (a phone's aspect)
    writeFileSync(
      big,
      await sharp(PHOTO)
        .resize(3024, 3024)
        .extend({ left: 504, right: 504, background: { r: 200, g: 200, b: 200 } })
        .jpeg({ quality: 92 })
        .toBuffer(),
    );
    expect(await sharp(big).metadata()).toMatchObject({ width: 4032, height: 3024 });
    const [small, large] = await Promise.all([pixels(enroll(PHOTO)), pixels(enroll(big))]);
    let diff = 0;
    for (let i = 0; i < small.length; i++) diff += Math.abs(small[i]! - large[i]!);
    const mean = diff / small.length;
    expect(mean, 'mean absolute pixel difference between the two thumbnails').toBeLessThan(20);
  }, 120_000);
});
