import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import sharp from 'sharp';
import { describe, expect, it } from 'vitest';
import { configSchema } from '../../src/config/schema.js';
import { EventBus } from '../../src/events.js';
import { createLogger } from '../../src/logging.js';
import { VisionClient } from '../../src/vision/visionClient.js';
import { VisionService } from '../../src/vision/visionService.js';
import { DATA, SKIP_DATA } from './sharedData.js';

describe.skipIf(SKIP_DATA)('VisionClient (worker thread)', () => {
  it('returns faces for a frame and drops stale frames while busy (newest wins)', async () => {
    const jpeg = await sharp(readFileSync(join(DATA, 'faces', 'obama', 'obama.jpg')))
      .resize(640, 480, { fit: 'contain' })
      .jpeg()
      .toBuffer();
    const frame = (seq: number) => ({ seq, capturedAt: Date.now(), width: 640, height: 480, format: 'jpeg' as const, data: jpeg });
    const client = new VisionClient({ precision: 'int8', intraOpThreads: 1 });
    await client.start();
    try {
      expect(client.info?.embedder).toBe('mobilefacenet512-int8'); // the manifest's default embedder
      const [a, b, c] = await Promise.all([client.process(frame(1)), client.process(frame(2)), client.process(frame(3))]);
      expect(a?.seq).toBe(1);
      expect(b).toBeNull();
      expect(c?.seq).toBe(3);
      expect(c!.faces).toHaveLength(1);
      const f = c!.faces[0]!;
      expect(f.embedding).toBeInstanceOf(Float32Array);
      expect(f.embedding!.length).toBe(512); // MobileFaceNet-512
      expect(f.landmarks5).toHaveLength(5);
      expect(f.antispoofScore).not.toBeNull();
      expect(c!.timings.totalMs).toBeGreaterThan(0);
      expect(client.getStats()).toMatchObject({ processed: 2, dropped: 1 });
    } finally {
      await client.stop();
    }
  });

  it('with tracking (a camera stream) the worker runs the detector only on its schedule', async () => {
    const jpeg = await sharp(readFileSync(join(DATA, 'faces', 'obama', 'obama.jpg')))
      .resize(640, 480, { fit: 'contain' })
      .jpeg()
      .toBuffer();
    const client = new VisionClient(
      { precision: 'int8', intraOpThreads: 1 },
      {},
      { newFaceIntervalFrames: 2, redetectIntervalFrames: 10, minFaceScore: 0.5, passiveIntervalFrames: 1, embedIntervalFrames: 1, embedFirstFrames: 3 },
    );
    await client.start();
    try {
      const ran: boolean[] = [];
      for (let seq = 1; seq <= 12; seq++) {
        const r = await client.process({ seq, capturedAt: Date.now(), width: 640, height: 480, format: 'jpeg', data: jpeg });
        expect(r!.faces).toHaveLength(1);
        expect(r!.faces[0]!.embedding).toBeInstanceOf(Float32Array);
        ran.push(r!.detectorRan!);
      }
      expect(ran.map((x, i) => (x ? i : -1)).filter((i) => i >= 0)).toEqual([0, 10]);
      expect(client.getStats()).toMatchObject({ processed: 12, detectorRuns: 2 });
    } finally {
      await client.stop();
    }
  });
});

describe('VisionService', () => {
  it('refuses to start when a model file does not match the manifest, naming the file and npm run models', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'blink-models-'));
    try {
      const manifest = JSON.parse(readFileSync(join(process.cwd(), 'models', 'manifest.json'), 'utf8')) as { models: { file: string }[] };
      writeFileSync(join(dir, 'manifest.json'), JSON.stringify(manifest));
      const config = configSchema.parse({ vision: { modelsDir: dir } });
      const svc = new VisionService(config.vision, new EventBus(), createLogger('silent'), config.access.trackMinFrames);
      await expect(svc.start()).rejects.toThrow(/model file missing: .*\.onnx.*npm run models/);
      expect(svc.status()).toBe('failed');
      await svc.stop();
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
