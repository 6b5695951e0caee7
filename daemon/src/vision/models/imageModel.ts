import ort from 'onnxruntime-node';
import { packTensor, warpToTensor, type InputNorm, type RgbImage, type Similarity } from '../align.js';
import type { ModelEntry } from '../modelManifest.js';
import { createSession, inputNorm, inputSize, type SessionOptions } from '../modelSet.js';

/**
 * One image network: its ONNX session, its input size and normalisation (from the manifest) and a
 * reused input tensor. A crop is warped straight into the tensor (one pass, no intermediate
 * image), or a ready chip is packed into it.
 */
export class ImageModel {
  readonly size: { width: number; height: number };
  private readonly buf: Float32Array;
  private readonly norm: InputNorm;
  private readonly tensor: ort.Tensor;

  constructor(
    readonly session: ort.InferenceSession,
    readonly entry: ModelEntry,
  ) {
    this.size = inputSize(entry);
    this.norm = inputNorm(entry);
    this.buf = new Float32Array(this.size.width * this.size.height * 3);
    const { width, height } = this.size;
    // one input tensor over the reused buffer: ORT reads it in place on every run
    this.tensor = new ort.Tensor('float32', this.buf, entry.input.layout === 'NCHW' ? [1, 3, height, width] : [1, height, width, 3]);
  }

  static async load(modelsDir: string, entry: ModelEntry, o: SessionOptions): Promise<ImageModel> {
    return new ImageModel(await createSession(modelsDir, entry, o), entry);
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
