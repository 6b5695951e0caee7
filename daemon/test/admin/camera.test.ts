import { copyFileSync, existsSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { testDataDir } from '../../src/system/paths.js';
import { Client, count, startAdmin, type Harness } from './adminHarness.js';
import { tempDir } from '../helpers/blinkd.js';

const FACES = join(testDataDir(), 'faces');
const haveData = existsSync(join(FACES, 'howard', 'howard1.png'));
if (!haveData && process.env.CI) throw new Error(`test data missing at ${FACES} (set BLINK_TEST_DATA)`);

interface Meta {
  analysed: boolean;
  faces: Array<{ box: { width: number }; quality: { faceSizePx: number; problems: string[] } }>;
}

/** The door camera (a real CameraService playing images:DIR) seen through the admin, without the access loop. */
describe.runIf(haveData)('admin live view and enrollment from the door camera', () => {
  let h: Harness;
  let c: Client;
  const camDir = tempDir('blink-cam-');

  beforeAll(async () => {
    const cam = camDir.dir;
    copyFileSync(join(FACES, 'howard', 'howard2.png'), join(cam, 'howard2.png'));
    h = await startAdmin({ camera: { source: `images:${cam}`, fps: 5 } }, { runtime: 'camera' });
    c = new Client(h.url);
    expect(await c.setup(h.setupToken())).toBe(200);
    // Wait for the first frames.
    for (let i = 0; i < 50 && (await c.req('GET', '/api/v1/live/frame')).status !== 200; i++) await new Promise((r) => setTimeout(r, 100));
  });
  afterAll(async () => {
    await h?.close();
    camDir.cleanup();
  });

  it('shows the camera picture even when no analysed frames are published (no boxes then)', async () => {
    const res = await fetch(`${h.url}/api/v1/live/frame`, { headers: { cookie: c.cookie } });
    expect(res.status).toBe(200);
    expect(res.headers.get('content-type')).toBe('image/jpeg');
    const meta = JSON.parse(res.headers.get('x-frame-meta')!) as Meta;
    expect(meta).toMatchObject({ analysed: false, faces: [] });
    expect((await res.arrayBuffer()).byteLength).toBeGreaterThan(1000);
  });

  it('analyses the camera frame on demand for enrollment feedback (face size, quality)', async () => {
    const res = await fetch(`${h.url}/api/v1/live/assess`, { headers: { cookie: c.cookie } });
    expect(res.status).toBe(200);
    const meta = JSON.parse(res.headers.get('x-frame-meta')!) as Meta;
    expect(meta.analysed).toBe(true);
    expect(meta.faces).toHaveLength(1);
    expect(meta.faces[0]!.quality.faceSizePx).toBeGreaterThan(20);
    expect(meta.faces[0]!.quality.problems).toEqual([]);
  });

  it('enrolls a new person from camera captures; the templates are marked as from the camera', async () => {
    const caps: string[] = [];
    for (let i = 0; i < 2; i++) {
      const r = await c.req('POST', '/api/v1/live/capture', {});
      expect(r.status, r.text).toBe(200);
      caps.push(String(r.json.captureId));
    }
    const r = await c.req('POST', '/api/v1/people/from-camera', { name: 'Howard Wolowitz', captures: caps });
    expect(r.status, r.text).toBe(200);
    expect(r.json.templates).toBe(2);
    const id = (r.json.person as { id: string }).id;
    const sources = h.unit.store.db.prepare('SELECT source FROM face_templates WHERE person_id = ?').all(id) as Array<{ source: string }>;
    expect(sources.map((s) => s.source)).toEqual(['camera', 'camera']);
    expect(count(h, 'face_thumbnails')).toBe(1);
    // Captures are single-use.
    const again = await c.req('POST', '/api/v1/people/from-camera', { name: 'Again', captures: caps });
    expect(again.status).toBe(400);
  });
});
