import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { visionSchema } from '../../src/config/schema.js';
import { applySimilarity, arcfaceTemplate } from '../../src/vision/align.js';
import { decodeImage } from '../../src/vision/decode.js';
import { loadModelManifest } from '../../src/vision/modelManifest.js';
import { chooseModels, defaultModelsDir } from '../../src/vision/modelSet.js';
import { FacePipeline } from '../../src/vision/pipeline.js';
import { DATA, SKIP_DATA } from './sharedData.js';

describe('the MobileFaceNets are selectable with vision.recognitionModel', () => {
  it('resolves each family at each precision', () => {
    const m = loadModelManifest(defaultModelsDir());
    for (const fam of ['mobilefacenet512', 'mobilefacenet192'])
      for (const precision of ['int8', 'fp32'] as const) expect(chooseModels(m, { recognitionModel: fam, precision }).embedder.id).toBe(`${fam}-${precision}`);
    // the default is MobileFaceNet-512 (measured more accurate at every FAR, docs/EVALUATION.md); dlib stays selectable
    expect(chooseModels(m, { precision: 'int8' }).embedder.id).toBe('mobilefacenet512-int8');
    expect(chooseModels(m, { recognitionModel: 'faceapi-resnet128', precision: 'int8' }).embedder.id).toBe('faceapi-resnet-int8');
    expect(chooseModels(m, { recognitionModel: visionSchema.parse(undefined).recognitionModel, precision: 'int8' }).embedder.id).toBe('mobilefacenet512-int8');
  });
});

describe.skipIf(SKIP_DATA)('ArcFace-template alignment for a 112×112 embedder', () => {
  it('puts the five points of a real face on the ArcFace template and embeds 512 values', async () => {
    const p = await FacePipeline.create({ recognitionModel: 'mobilefacenet512', precision: 'int8', antispoof: false, liveness: false });
    try {
      expect(p.embeddingDim).toBe(512);
      const img = await decodeImage(readFileSync(join(DATA, 'faces', 'obama', 'obama.jpg')));
      const f = await p.describeLargestFace(img);
      expect(f).not.toBeNull();
      const { size, transform } = p.alignChip(img, f!.face.landmarks5);
      expect(size).toBe(112);
      const tpl = arcfaceTemplate(112);
      // a 4-DOF least-squares fit to 5 points leaves the face's own shape as residual (measured:
      // eyes ≤ 3 px, mouth corners ≤ 7.5 px on 112 px); a wrong order or mirrored points gives tens of px
      let ss = 0;
      f!.face.landmarks5.forEach((pt, i) => {
        const q = applySimilarity(transform, pt);
        const d = Math.hypot(q.x - tpl[i]!.x, q.y - tpl[i]!.y);
        expect(d).toBeLessThan(i < 2 ? 3.5 : 8);
        ss += d * d;
      });
      expect(Math.sqrt(ss / 5)).toBeLessThan(6); // measured 5.1 px on this photo (smiling: wide mouth)
      const e = f!.embeddings.int8!;
      expect(e.length).toBe(512);
      expect(Math.hypot(...e)).toBeCloseTo(1, 5);
    } finally {
      await p.release();
    }
  });
});
