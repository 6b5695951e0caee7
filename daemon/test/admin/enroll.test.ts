import { doorThreshold } from '../helpers/operatingPoint.js';
import { existsSync, readFileSync } from 'node:fs';
import { basename, join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import sharp from 'sharp';
import { testDataDir } from '../../src/system/paths.js';
import { decodeImage } from '../../src/vision/decode.js';
import { FacePipeline } from '../../src/vision/pipeline.js';
import { pipelineOptions } from '../../src/vision/pipelineOptions.js';
import { Client, count, startAdmin, type Harness } from './adminHarness.js';

const FACES = join(testDataDir(), 'faces');
const haveData = existsSync(join(FACES, 'amy', 'amy1.png'));
if (!haveData && process.env.CI) throw new Error(`test data missing at ${FACES} (set BLINK_TEST_DATA)`);

function photos(...paths: string[]): FormData {
  const form = new FormData();
  for (const p of paths) form.append('photos', new Blob([readFileSync(join(FACES, p))]), basename(p));
  return form;
}

function enrollForm(name: string, ...paths: string[]): FormData {
  const f = photos(...paths);
  f.set('name', name);
  return f;
}

/** Everything enrollment could write. */
function rows(h: Harness): Record<string, number> {
  return { people: count(h, 'people'), templates: count(h, 'face_templates'), thumbnails: count(h, 'face_thumbnails'), chips: count(h, 'face_chips') };
}

describe.runIf(haveData)('enrollment through the admin API (real vision models)', () => {
  let h: Harness;
  let c: Client;

  beforeAll(async () => {
    h = await startAdmin({ admin: { maxUploadMb: 2 } });
    c = new Client(h.url);
    expect(await c.setup(h.setupToken())).toBe(200);
  });
  afterAll(async () => h?.close());

  it('runs photo enrollments one at a time with two waiting; a fourth at once is refused busy before its photos are read', async () => {
    const angelina = ['img2.jpg', 'img4.jpg', 'img5.jpg', 'img6.jpg', 'img7.jpg'].map((f) => `deepface_angelina/${f}`);
    const before = rows(h);
    const started = Date.now();
    const results = await Promise.all(
      ['One', 'Two', 'Three', 'Four'].map((n, i) => c.req('POST', '/api/v1/people', enrollForm(`Concurrent ${n}`, ...angelina.slice(i % 2, (i % 2) + 4)))),
    );
    const statuses = results.map((r) => r.status).sort();
    // the same face four times: the first is enrolled, the queued ones are duplicates (409), one is busy
    expect(statuses, results.map((r) => r.text).join('\n')).toEqual([200, 409, 409, 503]);
    const busy = results.find((r) => r.status === 503)!;
    expect(busy.json).toMatchObject({ error: 'busy' });
    expect(rows(h).people! - before.people!).toBe(1);
    expect(Date.now() - started).toBeLessThan(120_000);
    const one = results.find((r) => r.status === 200)!.json.person as { id: string };
    expect((await c.req('DELETE', `/api/v1/people/${one.id}`)).status).toBe(200);
  });

  it('enrolls a person from real photos: templates, thumbnail, listed and searchable', async () => {
    const r = await c.req('POST', '/api/v1/people', enrollForm('Amy Farrah', 'amy/amy1.png', 'amy/amy2.png', 'amy/amy3.png'));
    expect(r.status, r.text).toBe(200);
    const person = r.json.person as { id: string; name: string; templates: number; hasThumbnail: boolean };
    expect(person.name).toBe('Amy Farrah');
    expect(r.json.templates).toBe(3);
    expect(rows(h)).toEqual({ people: 1, templates: 3, thumbnails: 1, chips: 3 });
    const list = await c.req('GET', '/api/v1/people?q=farrah');
    expect((list.json.items as Array<{ id: string; templates: number }>).map((p) => [p.id, p.templates])).toEqual([[person.id, 3]]);
    const thumb = await fetch(`${h.url}/api/v1/people/${person.id}/thumbnail`, { headers: { cookie: c.cookie } });
    expect(thumb.headers.get('content-type')).toBe('image/jpeg');
    expect((await thumb.arrayBuffer()).byteLength).toBeGreaterThan(500);
    const audit = await c.req('GET', '/api/v1/audit?action=person.enrolled');
    expect((audit.json.entries as Array<{ actor: string; target: string }>)[0]).toMatchObject({ actor: 'admin:facilities', target: `person:${person.id}` });
  });

  it('refuses the same face under another name (duplicate, 409) and writes nothing', async () => {
    const before = rows(h);
    const r = await c.req('POST', '/api/v1/people', enrollForm('Not Amy', 'amy/amy4.png'));
    expect(r.status, r.text).toBe(409);
    expect(r.json.error).toBe('duplicate');
    expect(r.json.message).toMatch(/already enrolled as Amy Farrah/);
    expect(rows(h)).toEqual(before);
  });

  it('a photo with no face → 422 naming the photo; nothing written', async () => {
    const before = rows(h);
    const r = await c.req('POST', '/api/v1/people', enrollForm('Dog Owner', 'sheldon/sheldon1.png', 'no_face/dlib__dogs.jpg'));
    expect(r.status, r.text).toBe(422);
    expect(r.json.error).toBe('no_face');
    expect(r.json.message).toMatch(/dlib__dogs\.jpg.*no face/);
    expect(rows(h)).toEqual(before);
  });

  it('a photo with two faces → 422 naming the photo; nothing written', async () => {
    const before = rows(h);
    const r = await c.req('POST', '/api/v1/people', enrollForm('Couple', 'group_photos/deepface__couple.jpg'));
    expect(r.status, r.text).toBe(422);
    expect(r.json.error).toBe('multiple_faces');
    expect(r.json.message).toMatch(/faces found; use a photo of one person/);
    expect(rows(h)).toEqual(before);
  });

  it('a non-image or a corrupt image → 400 naming the file; nothing written', async () => {
    const before = rows(h);
    const text = new FormData();
    text.set('name', 'Text');
    text.append('photos', new Blob(['this is not a photo']), 'notes.txt');
    const r1 = await c.req('POST', '/api/v1/people', text);
    expect(r1.status).toBe(400);
    expect(r1.json.message).toMatch(/"notes\.txt" is not a readable image/);
    const png = readFileSync(join(FACES, 'sheldon', 'sheldon2.png'));
    const corrupt = new FormData();
    corrupt.set('name', 'Corrupt');
    corrupt.append('photos', new Blob([readFileSync(join(FACES, 'sheldon', 'sheldon1.png'))]), 'good.png');
    corrupt.append('photos', new Blob([png.subarray(0, Math.floor(png.length / 2))]), 'truncated.png');
    const r2 = await c.req('POST', '/api/v1/people', corrupt);
    expect(r2.status).toBe(400);
    expect(r2.json.message).toMatch(/"truncated\.png" is not a readable image/);
    expect(rows(h)).toEqual(before);
  });

  it('an upload over admin.maxUploadMb → 413; nothing written', async () => {
    const before = rows(h);
    const big = new FormData();
    big.set('name', 'Big');
    big.append('photos', new Blob([Buffer.alloc(2500 * 1024, 1)]), 'huge.jpg');
    const r = await c.req('POST', '/api/v1/people', big);
    expect(r.status).toBe(413);
    expect(r.json.message).toMatch(/2 MB limit/);
    expect(rows(h)).toEqual(before);
  });

  it('POST /api/v1/embeddings returns the embedding, authenticated only', async () => {
    const form = new FormData();
    form.append('image', new Blob([readFileSync(join(FACES, 'obama', 'obama.jpg'))]), 'obama.jpg');
    const anon = await new Client(h.url).req('POST', '/api/v1/embeddings', form);
    expect(anon.status).toBe(401);
    const form2 = new FormData();
    form2.append('image', new Blob([readFileSync(join(FACES, 'obama', 'obama.jpg'))]), 'obama.jpg');
    const r = await c.req('POST', '/api/v1/embeddings', form2);
    expect(r.status, r.text).toBe(200);
    const e = r.json as { embedding: number[]; dimension: number; model: string; precision: string };
    expect(e.dimension).toBe(e.embedding.length);
    expect(e.dimension).toBeGreaterThanOrEqual(128);
    expect(Math.hypot(...e.embedding)).toBeCloseTo(1, 2);
    expect(e.model).toMatch(/\S/);
    expect(['int8', 'fp32']).toContain(e.precision);
  });

  it('live view: the newest analysed frame on the bus comes back as JPEG with boxes and names', async () => {
    expect((await c.req('GET', '/api/v1/live/frame')).status).toBe(503);
    const jpeg = await sharp(readFileSync(join(FACES, 'amy', 'amy4.png')))
      .jpeg()
      .toBuffer();
    const img = await decodeImage(jpeg);
    // The door's vision worker as the unit configures it (the same embedder the admin enrolled with).
    const pipeline = await FacePipeline.create(pipelineOptions(h.config.vision, { passive: false }));
    try {
      const r = await pipeline.process(img, { retryZoomedOut: true, passive: false });
      expect(r.faces).toHaveLength(1);
      // This harness runs no door vision service: the registry's gallery gets the embedder it would report.
      h.unit.registry.activate(pipeline.embedderId(), pipeline.embeddingDim);
      const frame = { seq: 7, capturedAt: Date.now(), width: img.width, height: img.height, format: 'jpeg' as const, data: jpeg };
      h.unit.bus.emit('frame.analyzed', {
        frame,
        result: {
          seq: 7,
          capturedAt: frame.capturedAt,
          width: img.width,
          height: img.height,
          faces: r.faces,
          timings: { decodeMs: 0, ...r.timings, totalMs: 0 },
        },
      });
    } finally {
      await pipeline.release();
    }
    const res = await fetch(`${h.url}/api/v1/live/frame`, { headers: { cookie: c.cookie } });
    expect(res.status).toBe(200);
    expect(res.headers.get('content-type')).toBe('image/jpeg');
    expect(Buffer.from(await res.arrayBuffer()).equals(jpeg)).toBe(true);
    const meta = JSON.parse(res.headers.get('x-frame-meta')!) as { seq: number; faces: Array<{ name: string | null; score: number; box: { width: number } }> };
    expect(meta.seq).toBe(7);
    expect(meta.faces).toHaveLength(1);
    expect(meta.faces[0]!.name).toBe('Amy Farrah');
    expect(meta.faces[0]!.score).toBeGreaterThan(doorThreshold(h.unit.registry.searchable(), 'standard', pipeline.embedderId()));
    expect(meta.faces[0]!.box.width).toBeGreaterThan(20);
    // A name that is not ASCII travels in the header too (escaped JSON).
    const id = meta.faces.length && ((await c.req('GET', '/api/v1/people?q=Farrah')).json.items as Array<{ id: string }>)[0]!.id;
    expect((await c.req('PATCH', `/api/v1/people/${id}`, { name: 'Zhāng 李' })).status).toBe(200);
    const res2 = await fetch(`${h.url}/api/v1/live/frame`, { headers: { cookie: c.cookie } });
    expect(res2.status).toBe(200);
    expect((JSON.parse(res2.headers.get('x-frame-meta')!) as { faces: Array<{ name: string }> }).faces[0]!.name).toBe('Zhāng 李');
    expect((await c.req('PATCH', `/api/v1/people/${id}`, { name: 'Amy Farrah' })).status).toBe(200);
    // One face of good quality: a capture for camera enrollment is accepted.
    const cap = await c.req('POST', '/api/v1/live/capture', {});
    expect(cap.status, cap.text).toBe(200);
    expect(cap.json.captureId).toMatch(/^[0-9a-f-]{36}$/);
    const img2 = await fetch(`${h.url}/api/v1/live/capture/${String(cap.json.captureId)}`, { headers: { cookie: c.cookie } });
    expect(img2.headers.get('content-type')).toBe('image/jpeg');
    // Enrolling the capture as someone new is the duplicate check's job: she is already enrolled.
    const before = rows(h);
    const dup = await c.req('POST', '/api/v1/people/from-camera', { name: 'Amy Again', captures: [cap.json.captureId] });
    expect(dup.status, dup.text).toBe(409);
    expect(dup.json.message).toMatch(/already enrolled as Amy Farrah/);
    expect(rows(h)).toEqual(before);
    const gone = await c.req('POST', '/api/v1/people/from-camera', { name: 'X', captures: ['00000000-0000-4000-8000-000000000000'] });
    expect(gone.status).toBe(400);
    expect(gone.json.message).toMatch(/capture .* not found/);
  });

  it('thumbnail retention 0 erases stored thumbnails at once', async () => {
    expect(count(h, 'face_thumbnails')).toBe(1);
    const r = await c.req('PUT', '/api/v1/settings', { changes: { 'admin.thumbnailRetentionDays': 0 } });
    expect(r.status).toBe(200);
    expect(count(h, 'face_thumbnails')).toBe(0);
    expect((await c.req('PUT', '/api/v1/settings', { changes: { 'admin.thumbnailRetentionDays': 30 } })).status).toBe(200);
    const { items: people } = (await c.req('GET', '/api/v1/people')).json as { items: Array<{ id: string }> };
    // Put one back through "add photos" so the erase-on-delete check below has something to erase.
    const more = await c.req('POST', `/api/v1/people/${people[0]!.id}/photos`, photos('amy/amy4.png'));
    expect(more.status, more.text).toBe(200);
    expect(rows(h)).toEqual({ people: 1, templates: 4, thumbnails: 1, chips: 4 });
  });

  it('deleting a person erases their templates, face chips and thumbnails', async () => {
    const { items: people } = (await c.req('GET', '/api/v1/people')).json as { items: Array<{ id: string }> };
    const id = people[0]!.id;
    const r = await c.req('DELETE', `/api/v1/people/${id}`);
    expect(r.status).toBe(200);
    expect(r.json).toMatchObject({ ok: true, templatesErased: 4, thumbnailsErased: 1, chipsErased: 4 });
    expect(rows(h)).toEqual({ people: 0, templates: 0, thumbnails: 0, chips: 0 });
    expect((await c.req('GET', `/api/v1/people/${id}`)).status).toBe(404);
  });
});
