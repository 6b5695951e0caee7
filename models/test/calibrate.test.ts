/**
 * `--calibrate DIR` on ordinary photos: faces are detected and aligned by the daemon's pipeline,
 * the table gets a finite range for every activation the quantizer needs, and a folder without
 * usable faces is refused with a clear message. The committed table is never touched.
 */
import { copyFileSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { basename, join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { buildFaceApiResnet, FACEAPI_MEAN_RGB } from '../tools/faceApiResnet.js';
import type { PhotoCalibrationTable } from '../tools/calibrate.js';
import { runCalibration } from '../tools/main.js';
import { sha256 } from '../tools/manifest.js';
import { quantizableTensors, quantizeGraph } from '../tools/quantize.js';
import { FACE_API } from '../tools/sources.js';
import type { WeightGroup } from '../tools/tfjsWeights.js';
import { MODELS_DIR, pinnedFiles, requireTestData, runDataTests } from './helpers.js';

const COMMITTED_TABLE = join(MODELS_DIR, 'calibration', 'faceapi-resnet.json');

/** Photos of several sizes: group photos (many faces), a portrait, and an already aligned 150×150 chip. */
const PHOTOS = ['group_photos/human__group-1.jpg', 'group_photos/face-api.js__bbt4.jpg', 'group_photos/human__group-5.jpg', 'obama/obama.jpg', 'amy/amy1.png'];
const NO_FACE = ['no_face/dlib__dogs.jpg', 'no_face/face-api.js__white.png', 'no_face/human__background.jpg'];

async function faceApiGraph() {
  const files = await pinnedFiles(FACE_API, ['model/face_recognition_model-weights_manifest.json', 'model/face_recognition_model.bin']);
  const manifest = JSON.parse(
    Buffer.from(files.get('model/face_recognition_model-weights_manifest.json') ?? new Uint8Array()).toString('utf8'),
  ) as WeightGroup[];
  return buildFaceApiResnet(manifest, (p) => files.get(`model/${p}`) ?? new Uint8Array());
}

describe.skipIf(!runDataTests)('--calibrate on a folder of ordinary face photos', () => {
  let tmp: string;
  let committedHash: string;
  const quiet = (): void => {};
  beforeAll(() => {
    tmp = mkdtempSync(join(tmpdir(), 'blink-calibrate-'));
    committedHash = sha256(readFileSync(COMMITTED_TABLE));
  });
  afterAll(() => rmSync(tmp, { recursive: true, force: true }));

  it('aligns every face with the production pipeline and writes a finite range for every quantized activation', async () => {
    const faces = join(requireTestData(), 'faces');
    const photos = join(tmp, 'photos');
    mkdirSync(join(photos, 'nested'), { recursive: true });
    for (const [i, p] of PHOTOS.entries()) copyFileSync(join(faces, p), join(i % 2 ? join(photos, 'nested') : photos, basename(p)));
    copyFileSync(join(faces, NO_FACE[0]!), join(photos, 'dogs.jpg'));
    writeFileSync(join(photos, 'broken.jpg'), 'not a jpeg');
    const out = join(tmp, 'table.json');

    const t0 = performance.now();
    const { table, warnings } = await runCalibration([photos], MODELS_DIR, { out, log: quiet });
    console.log(`calibrated on ${table.faces} faces in ${((performance.now() - t0) / 1000).toFixed(1)} s`);

    // bad images are warnings naming the file, not failures
    expect(warnings.some((w) => w.includes('broken.jpg') && /not a readable image/.test(w))).toBe(true);
    expect(warnings.some((w) => w.includes('dogs.jpg') && /no face found/.test(w))).toBe(true);

    const written = JSON.parse(readFileSync(out, 'utf8')) as PhotoCalibrationTable;
    expect(written).toEqual(table);
    // group photos hold several faces each: more faces than photos, all five photos used (the chip too)
    expect(written.photos).toBe(PHOTOS.length);
    expect(written.faces).toBeGreaterThanOrEqual(20);
    expect(written.images).toBe(written.faces * 4);

    const g = await faceApiGraph();
    const tensors = quantizableTensors(g);
    expect(tensors.length).toBeGreaterThan(40);
    expect(Object.keys(written.ranges).sort()).toEqual([...tensors].sort());
    for (const t of tensors) {
      const [lo, hi] = written.ranges[t] ?? [NaN, NaN];
      expect(Number.isFinite(lo) && Number.isFinite(hi), t).toBe(true);
      expect(hi, t).toBeGreaterThan(lo);
    }
    // the network input is the daemon's normalisation of 8-bit chips: (rgb - mean) / 255
    const [inLo, inHi] = written.ranges[tensors[0]!]!;
    expect(inLo).toBeGreaterThanOrEqual(-Math.max(...FACEAPI_MEAN_RGB) / 255 - 1e-6);
    expect(inHi).toBeLessThanOrEqual((255 - Math.min(...FACEAPI_MEAN_RGB)) / 255 + 1e-6);
    expect(inHi - inLo).toBeGreaterThan(0.5);
    // the table quantizes the graph
    expect(() => quantizeGraph(g, written)).not.toThrow();
    expect(sha256(readFileSync(COMMITTED_TABLE))).toBe(committedHash);
  }, 120_000);

  it('refuses a folder without usable faces, naming the count and the folder', async () => {
    const faces = join(requireTestData(), 'faces');
    const dir = join(tmp, 'no-faces');
    mkdirSync(dir, { recursive: true });
    for (const p of NO_FACE) copyFileSync(join(faces, p), join(dir, basename(p)));
    const out = join(tmp, 'never.json');
    await expect(runCalibration([dir], MODELS_DIR, { out, log: quiet })).rejects.toThrow(
      new RegExp(
        `only 0 usable faces in ${NO_FACE.length} images under ${dir.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')} \\(need at least 20; ${NO_FACE.length} images without a face`,
      ),
    );
    expect(() => readFileSync(out)).toThrow();
    expect(sha256(readFileSync(COMMITTED_TABLE))).toBe(committedHash);
  }, 120_000);

  it('refuses a folder without images', async () => {
    const dir = join(tmp, 'empty');
    mkdirSync(dir, { recursive: true });
    writeFileSync(join(dir, 'notes.txt'), 'no photos here');
    await expect(runCalibration([dir], MODELS_DIR, { out: join(tmp, 'never.json'), log: quiet })).rejects.toThrow(/no images \(jpg, png, webp\) in/);
  });
});
