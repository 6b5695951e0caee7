import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { decodeImage } from '../../src/vision/decode.js';
import { loadModelManifest } from '../../src/vision/modelManifest.js';
import { chooseModels, defaultModelsDir, FAST_DETECTOR_ID } from '../../src/vision/modelSet.js';
import { FacePipeline } from '../../src/vision/pipeline.js';
import { DATA, SKIP_DATA } from './sharedData.js';

describe('detector choice', () => {
  const manifest = loadModelManifest(defaultModelsDir());
  it("'auto' runs the short-range detector first with the manifest default as fallback", () => {
    const c = chooseModels(manifest, { detector: 'auto' });
    expect(c.detector.id).toBe(FAST_DETECTOR_ID);
    expect(c.fallbackDetector?.id).toBe(manifest.defaults.detector);
  });
  it('a named detector runs alone', () => {
    const c = chooseModels(manifest, { detector: 'blazeface' });
    expect(c.detector.id).toBe('blazeface');
    expect(c.fallbackDetector).toBeNull();
  });
});

describe.skipIf(SKIP_DATA)('detector cascade on real photos', () => {
  let auto: FacePipeline;
  let shortOnly: FacePipeline;
  beforeAll(async () => {
    auto = await FacePipeline.create({ precision: 'int8', antispoof: false, liveness: false, intraOpThreads: 1 });
    shortOnly = await FacePipeline.create({ precision: 'int8', detector: FAST_DETECTOR_ID, antispoof: false, liveness: false, intraOpThreads: 1 });
  });
  afterAll(async () => {
    await auto?.release();
    await shortOnly?.release();
  });
  it('falls back to BlazeFace when the fast detector only finds something the mesh rejects', async () => {
    // On this photo the short-range detector fires on a wrong region (the mesh rejects it); BlazeFace finds the face.
    const img = await decodeImage(readFileSync(join(DATA, 'faces', 'distractors', 'human__person-linda.jpg')));
    expect((await shortOnly.process(img, { embed: false, passive: false })).faces).toHaveLength(0);
    const r = await auto.process(img, { embed: false, passive: false });
    expect(r.faces).toHaveLength(1);
    expect(r.faces[0]!.faceScore).toBeGreaterThan(0.9);
  });
  it('needs no fallback on a close-range face: same embedding as the short-range detector alone', async () => {
    const img = await decodeImage(readFileSync(join(DATA, 'faces', 'obama', 'obama.jpg')));
    const a = await auto.describeLargestFace(img);
    const b = await shortOnly.describeLargestFace(img);
    expect(a && b).toBeTruthy();
    const dot = a!.face.embedding!.reduce((s, v, i) => s + v * b!.face.embedding![i]!, 0);
    expect(dot).toBeCloseTo(1, 6);
  });
});
