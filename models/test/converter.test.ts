import * as ort from 'onnxruntime-node';
import { describe, expect, it } from 'vitest';
import { convertTfjsGraph, type TfjsModelJson, type TfNode } from '../tools/tfjsGraph.js';
import { halfToFloat } from '../tools/tfjsWeights.js';

const b64 = (s: string) => Buffer.from(s).toString('base64');

function tinyModel(extraOp?: string): { model: TfjsModelJson; bin: Uint8Array } {
  // input [1,4,4,3] -> 1x1 conv (3->2, weights 1, bias 0.5) + relu -> [optional op] -> output
  const w = new Float32Array([1, 1, 1, 1, 1, 1, 0.5, 0.5]);
  const nodes: TfNode[] = [
    { name: 'x', op: 'Placeholder', attr: { shape: { shape: { dim: [{ size: '1' }, { size: '4' }, { size: '4' }, { size: '3' }] } } } },
    { name: 'w', op: 'Const' },
    { name: 'b', op: 'Const' },
    {
      name: 'conv',
      op: '_FusedConv2D',
      input: ['x', 'w', 'b'],
      attr: {
        strides: { list: { i: ['1', '1', '1', '1'] } },
        padding: { s: b64('SAME') },
        data_format: { s: b64('NHWC') },
        fused_ops: { list: { s: [b64('BiasAdd'), b64('Relu')] } },
      },
    },
    ...(extraOp ? [{ name: 'extra', op: extraOp, input: ['conv'] }] : []),
    { name: 'Identity', op: 'Identity', input: [extraOp ? 'extra' : 'conv'] },
  ];
  return {
    model: {
      modelTopology: { node: nodes },
      weightsManifest: [
        {
          paths: ['w.bin'],
          weights: [
            { name: 'w', shape: [1, 1, 3, 2], dtype: 'float32' },
            { name: 'b', shape: [2], dtype: 'float32' },
          ],
        },
      ],
    },
    bin: new Uint8Array(w.buffer),
  };
}

describe('tfjs graph converter', () => {
  it('converts a fused conv and keeps NHWC at the boundary', async () => {
    const { model, bin } = tinyModel();
    const out = convertTfjsGraph(model, () => bin, { inputName: 'input', outputs: [['Identity', 'y']], docString: '' }, 'tiny');
    expect(out.outputs).toEqual([{ name: 'y', type: 1, shape: [1, 4, 4, 2] }]);
    const s = await ort.InferenceSession.create(out.bytes);
    const x = Float32Array.from({ length: 48 }, (_, i) => (i % 3) - 1); // channels -1, 0, 1
    const y = (await s.run({ input: new ort.Tensor('float32', x, [1, 4, 4, 3]) })).y?.data as Float32Array;
    expect(Array.from(y.slice(0, 4))).toEqual([0.5, 0.5, 0.5, 0.5]);
  });

  it('fails loudly naming an op it does not cover', () => {
    const { model, bin } = tinyModel('ResizeBilinear');
    expect(() => convertTfjsGraph(model, () => bin, { inputName: 'input', outputs: [['Identity', 'y']], docString: '' }, 'tiny')).toThrow(
      /unsupported op 'ResizeBilinear' \(node 'extra'\)/,
    );
  });

  it('expands float16 exactly', () => {
    expect(halfToFloat(0x3c00)).toBe(1);
    expect(halfToFloat(0xc000)).toBe(-2);
    expect(halfToFloat(0x0001)).toBe(2 ** -24);
    expect(halfToFloat(0x7bff)).toBe(65504);
  });
});
