import ort from 'onnxruntime-node';
import { packTensor, warpToTensor, type InputNorm, type RgbImage, type Similarity } from '../align.js';
import type { ModelEntry } from '../modelManifest.js';
import { createSession, inputNorm, inputSize, type SessionOptions } from '../modelSet.js';

/** Does the session's first input take a batch (dim 0 symbolic or free), or is it fixed at 1? */
export function acceptsBatch(session: ort.InferenceSession): boolean {
  const m = session.inputMetadata?.[0];
  if (!m || !m.isTensor) return false;
  const d0 = m.shape[0];
  return typeof d0 === 'string' || (typeof d0 === 'number' && d0 < 1);
}

/** One output row per input of a batch: `rows[i]` is input i's slice of output `k`. */
export type BatchOutputs = (k: number) => Float32Array[];

/**
 * One image network: its ONNX session, its input size and normalisation (from the manifest) and a
 * reused input tensor. A crop is warped straight into the tensor (one pass, no intermediate
 * image), or a ready chip is packed into it. Several crops of one frame run as one batch
 * (one session.run with dim 0 = N) when the model's input dim 0 is symbolic, else one run each.
 */
export class ImageModel {
  readonly size: { width: number; height: number };
  private readonly buf: Float32Array;
  private readonly norm: InputNorm;
  private readonly tensor: ort.Tensor;
  /** Several crops of a frame run as one session.run: the model's input dim 0 is symbolic and batching is on. */
  readonly batchable: boolean;
  private batchBuf: Float32Array = new Float32Array(0);

  /**
   * `batch: false` runs the crops one session.run each even when the model takes a batch (where a
   * batch measured slower than single runs: FaceMesh on one intra-op thread, see Landmarker.load).
   */
  constructor(
    readonly session: ort.InferenceSession,
    readonly entry: ModelEntry,
    batch = true,
  ) {
    this.size = inputSize(entry);
    this.norm = inputNorm(entry);
    this.buf = new Float32Array(this.size.width * this.size.height * 3);
    // one input tensor over the reused buffer: ORT reads it in place on every run
    this.tensor = new ort.Tensor('float32', this.buf, this.dims(1));
    this.batchable = batch && acceptsBatch(session);
  }

  private dims(n: number): number[] {
    const { width, height } = this.size;
    return this.entry.input.layout === 'NCHW' ? [n, 3, height, width] : [n, height, width, 3];
  }

  /**
   * Fills input i of a batch with `fill(i, buffer, offset)` for each of `n` inputs and runs: one
   * session.run when the model takes a batch, else one run per input. Output rows are copies.
   */
  private async runBatch(n: number, fill: (i: number, buf: Float32Array, offset: number) => void): Promise<BatchOutputs> {
    const per = this.size.width * this.size.height * 3;
    if (n === 0) return () => [];
    if (this.batchable && n > 1) {
      if (this.batchBuf.length < n * per) this.batchBuf = new Float32Array(n * per);
      for (let i = 0; i < n; i++) fill(i, this.batchBuf, i * per);
      const res = await this.session.run({ [this.entry.input.name]: new ort.Tensor('float32', this.batchBuf.subarray(0, n * per), this.dims(n)) });
      return (k) => {
        const all = this.out(res, k);
        const w = all.length / n;
        return Array.from({ length: n }, (_, i) => all.slice(i * w, (i + 1) * w));
      };
    }
    const runs: ort.InferenceSession.OnnxValueMapType[] = [];
    for (let i = 0; i < n; i++) {
      fill(i, this.buf, 0);
      runs.push(await this.session.run({ [this.entry.input.name]: this.tensor }));
    }
    return (k) => runs.map((r) => this.out(r, k).slice());
  }

  /** Each crop `img` through `ts[i]`, as one batch (or one run each when the model's batch is fixed at 1). */
  runWarpedBatch(img: RgbImage, ts: readonly Similarity[]): Promise<BatchOutputs> {
    const { width, height } = this.size;
    return this.runBatch(ts.length, (i, buf, off) => warpToTensor(img, ts[i]!, width, height, this.norm, buf, off));
  }

  /** Ready RGB crops of the input size, as one batch (or one run each). */
  runCropBatch(crops: readonly Uint8Array[]): Promise<BatchOutputs> {
    const { width, height } = this.size;
    return this.runBatch(crops.length, (i, buf, off) => packTensor(crops[i]!, width, height, this.norm, buf, off));
  }

  static async load(modelsDir: string, entry: ModelEntry, o: SessionOptions, batch = true): Promise<ImageModel> {
    return new ImageModel(await createSession(modelsDir, entry, o), entry, batch);
  }

  /** Warps `img` through `t` into the input tensor and runs. */
  runWarped(img: RgbImage, t: Similarity): Promise<ort.InferenceSession.OnnxValueMapType> {
    warpToTensor(img, t, this.size.width, this.size.height, this.norm, this.buf);
    return this.session.run({ [this.entry.input.name]: this.tensor });
  }

  /** Packs a ready RGB crop of the input size into the tensor and runs. */
  runCrop(crop: Uint8Array): Promise<ort.InferenceSession.OnnxValueMapType> {
    packTensor(crop, this.size.width, this.size.height, this.norm, this.buf);
    return this.session.run({ [this.entry.input.name]: this.tensor });
  }

  out(res: ort.InferenceSession.OnnxValueMapType, i = 0): Float32Array {
    const name = this.entry.outputs[i]?.name ?? '';
    const v = res[name];
    if (!v) throw new Error(`model ${this.entry.id}: output ${name} missing`);
    return v.data as Float32Array;
  }

  release(): Promise<void> {
    return this.session.release().catch(() => {});
  }
}
