import { describe, expect, it } from 'vitest';
import ort from 'onnxruntime-node';
import { loadModelManifest, modelFor } from '../../src/vision/modelManifest.js';
import { parseConfig } from '../../src/config/load.js';
import { readEnvOverrides } from '../../src/config/envOverrides.js';
import { createSession, defaultModelsDir, inputSize, sessionOptions } from '../../src/vision/modelSet.js';
import { intraOpThreads, pipelineOptions } from '../../src/vision/pipelineOptions.js';

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** CPU time (ms) this process uses in the `ms` after a run of `session`, the busiest of `rounds` tries. */
async function cpuAfterRun(session: ort.InferenceSession, feeds: ort.InferenceSession.FeedsType, ms: number, rounds = 4): Promise<number> {
  let worst = 0;
  for (let i = 0; i < rounds; i++) {
    await session.run(feeds);
    const c0 = process.cpuUsage();
    await sleep(ms);
    const c = process.cpuUsage(c0);
    worst = Math.max(worst, (c.user + c.system) / 1000);
  }
  return worst;
}

/**
 * A frame runs several networks back to back. With more than one intra-op thread, onnxruntime's
 * pool spin-waits for the next parallel section; a pool that kept spinning after its run
 * returned would hold a core busy (stealing it from the next network, the camera and the rest of
 * the unit). The sessions spin during a run only.
 */
describe('onnxruntime sessions with several intra-op threads', () => {
  const modelsDir = defaultModelsDir();
  const entry = modelFor(loadModelManifest(modelsDir), 'landmarks');
  const { width, height } = inputSize(entry);
  const feeds = { [entry.input.name]: new ort.Tensor('float32', new Float32Array(width * height * 3).fill(0.3), [1, height, width, 3]) };

  it('spin only while they run: no core is kept busy once a run has returned', async () => {
    const session = await createSession(modelsDir, entry, { intraOpThreads: 2 });
    try {
      for (let i = 0; i < 5; i++) await session.run(feeds);
      // One spinning pool thread burns the whole 50 ms (measured 43–52 ms without force_spinning_stop).
      expect(await cpuAfterRun(session, feeds, 50)).toBeLessThan(8);
    } finally {
      await session.release();
    }
  });

  it('the same options without the stop do keep a core busy (so the check above can fail)', async () => {
    const o = sessionOptions({ intraOpThreads: 2 });
    const session = await ort.InferenceSession.create(`${modelsDir}/${entry.file}`, {
      ...o,
      extra: { session: { ...(o.extra as { session: Record<string, unknown> }).session, force_spinning_stop: '0' } },
    });
    try {
      for (let i = 0; i < 5; i++) await session.run(feeds);
      // 43–52 ms on an idle machine; 16–20 ms with four other processes spinning on the two cores
      expect(await cpuAfterRun(session, feeds, 50)).toBeGreaterThan(10);
    } finally {
      await session.release();
    }
  });

  it('one intra-op thread has no pool to spin', () => {
    const one = sessionOptions({ intraOpThreads: 1 });
    expect(one.intraOpNumThreads).toBe(1);
    expect((one.extra as { session: { intra_op: { allow_spinning: string } } }).session.intra_op.allow_spinning).toBe('0');
  });
});

describe('vision.intraOpThreads', () => {
  it('auto (the default) is 1 thread per model below 4 cores and 2 from 4; a number is taken as it is', () => {
    const v = parseConfig({}, 't').vision;
    expect(v.intraOpThreads).toBe('auto');
    expect(intraOpThreads('auto', 2)).toBe(1);
    expect(intraOpThreads('auto', 3)).toBe(1);
    expect(intraOpThreads('auto', 4)).toBe(2);
    expect(intraOpThreads('auto', 8)).toBe(2);
    expect(intraOpThreads(3, 2)).toBe(3);
    expect(pipelineOptions(parseConfig({ vision: { intraOpThreads: 3 } }, 't').vision, { passive: false }).intraOpThreads).toBe(3);
  });

  it('comes from the environment as a number or auto; anything else is refused by name', () => {
    const [o] = readEnvOverrides({ BLINK_VISION__INTRA_OP_THREADS: '2' });
    expect(o).toMatchObject({ path: ['vision', 'intraOpThreads'], value: 2 });
    expect(parseConfig({ vision: { intraOpThreads: 'auto' } }, 't').vision.intraOpThreads).toBe('auto');
    expect(() => parseConfig({ vision: { intraOpThreads: 'many' } }, 't')).toThrow(/vision\.intraOpThreads/);
    expect(() => parseConfig({ vision: { intraOpThreads: 0 } }, 't')).toThrow(/vision\.intraOpThreads/);
  });
});
