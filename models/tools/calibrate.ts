/**
 * Activation-range calibration for the INT8 quantizer: run the FP32 graph (with every
 * quantizable tensor exposed as an output) on aligned face crops and record min/max per tensor.
 * The result is committed as models/calibration/<model>.json so rebuilding needs no images.
 */
import * as ort from 'onnxruntime-node';
import type { OnnxGraph } from './onnxBuilder.js';
import { withCalibrationOutputs, type CalibrationTable } from './quantize.js';

export async function calibrate(
  g: OnnxGraph,
  inputs: Float32Array[],
  inputShape: number[],
  model: string,
  log: (m: string) => void = () => {},
): Promise<CalibrationTable> {
  const { graph, tensors } = withCalibrationOutputs(g);
  const session = await ort.InferenceSession.create(graph.encode('calibration'), { graphOptimizationLevel: 'disabled' });
  const lo = new Map<string, number>(tensors.map((t) => [t, Infinity]));
  const hi = new Map<string, number>(tensors.map((t) => [t, -Infinity]));
  const inputName = g.inputs[0]?.name ?? 'input';
  for (let i = 0; i < inputs.length; i++) {
    const x = inputs[i];
    if (!x) continue;
    const res = await session.run({ [inputName]: new ort.Tensor('float32', x, inputShape) }, tensors);
    for (const t of tensors) {
      const d = res[t]?.data as Float32Array;
      let mn = lo.get(t) ?? Infinity;
      let mx = hi.get(t) ?? -Infinity;
      for (let k = 0; k < d.length; k++) {
        const v = d[k] ?? 0;
        if (v < mn) mn = v;
        if (v > mx) mx = v;
      }
      lo.set(t, mn);
      hi.set(t, mx);
    }
    if ((i + 1) % 20 === 0 || i + 1 === inputs.length) log(`  calibrated ${i + 1}/${inputs.length}`);
  }
  await session.release();
  const ranges: Record<string, [number, number]> = {};
  // rounded to 6 significant digits: small, diff-friendly, deterministic
  for (const t of tensors) ranges[t] = [Number((lo.get(t) ?? 0).toPrecision(6)), Number((hi.get(t) ?? 0).toPrecision(6))];
  return { model, method: 'minmax', images: inputs.length, ranges };
}
