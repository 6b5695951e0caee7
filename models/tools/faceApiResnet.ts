/**
 * face-api's FaceRecognitionNet (dlib's ResNet-34-style metric network, 150x150 RGB -> 128-d)
 * rebuilt as an ONNX graph from its weight map. face-api keeps only weights in
 * face_recognition_model-weights_manifest.json/.bin; the architecture lives in its JS source
 * (src/faceRecognitionNet/*.ts, @vladmandic/face-api 1.7.15), mirrored here:
 *
 *   x = (rgb - [122.782, 117.001, 104.298]) / 255          (done by the caller, see manifest)
 *   convDown 7x7/2 valid (32) + scale + relu -> maxpool 3/2 valid
 *   residual x3 (32), residualDown + x3 (64), residualDown + x2 (128),
 *   residualDown + x2 (256), residualDown (256) -> mean over H,W -> fc 256x128
 *
 * conv layer = conv + bias, then "scale" (x * w + b per channel). The scale layer is folded
 * into the convolution at conversion time (W' = W * s, b' = b * s + sb), which is exact up to
 * float rounding and leaves plain Conv+Relu pairs that ORT (and the INT8 quantizer) like.
 * residualDown adds avgpool(x, 2, 2) with zero channel padding, and zero-pads the conv branch
 * at bottom/right when its spatial size is one short (3->4 and 1->2 in the last two blocks).
 */
import { attrInt, attrInts, attrString, OnnxGraph } from './onnxBuilder.js';
import { TensorType } from './onnxProto.js';
import { decodeWeights, type DecodedWeight, type WeightGroup } from './tfjsWeights.js';

export const FACEAPI_MEAN_RGB = [122.782, 117.001, 104.298];
export const FACEAPI_INPUT = 150;

interface T {
  name: string;
  c: number;
  h: number;
  w: number;
}

class ResnetBuilder {
  readonly g = new OnnxGraph('faceapi_resnet');

  constructor(private readonly wm: Map<string, DecodedWeight>) {}

  private weight(name: string): DecodedWeight {
    const w = this.wm.get(name);
    if (!w) throw new Error(`face-api weights: missing '${name}'`);
    return w;
  }

  /** conv + bias + folded scale layer (+ relu) */
  convLayer(x: T, prefix: string, stride: number, relu: boolean, padding: 'same' | 'valid'): T {
    const f = this.weight(`${prefix}/conv/filters`);
    const [kh = 0, kw = 0, cin = 0, cout = 0] = f.shape;
    if (cin !== x.c) throw new Error(`${prefix}: expected ${cin} input channels, got ${x.c}`);
    const bias = this.weight(`${prefix}/conv/bias`).data;
    const sw = this.weight(`${prefix}/scale/weights`).data;
    const sb = this.weight(`${prefix}/scale/biases`).data;
    const W = new Float32Array(cout * cin * kh * kw);
    const B = new Float32Array(cout);
    for (let o = 0; o < cout; o++) {
      const s = sw[o] ?? 0;
      B[o] = (bias[o] ?? 0) * s + (sb[o] ?? 0);
      for (let i = 0; i < cin; i++) {
        for (let y = 0; y < kh; y++) {
          for (let xx = 0; xx < kw; xx++) {
            W[((o * cin + i) * kh + y) * kw + xx] = (f.data[((y * kw + xx) * cin + i) * cout + o] ?? 0) * s;
          }
        }
      }
    }
    let pads = [0, 0, 0, 0];
    let oh: number;
    let ow: number;
    if (padding === 'same') {
      oh = Math.ceil(x.h / stride);
      ow = Math.ceil(x.w / stride);
      const th = Math.max((oh - 1) * stride + kh - x.h, 0);
      const tw = Math.max((ow - 1) * stride + kw - x.w, 0);
      pads = [Math.floor(th / 2), Math.floor(tw / 2), th - Math.floor(th / 2), tw - Math.floor(tw / 2)];
    } else {
      oh = Math.floor((x.h - kh) / stride) + 1;
      ow = Math.floor((x.w - kw) / stride) + 1;
    }
    const wName = this.g.addInitializer(`${prefix}/w`, [cout, cin, kh, kw], W);
    const bName = this.g.addInitializer(`${prefix}/b`, [cout], B);
    let out = this.g.op(
      'Conv',
      [x.name, wName, bName],
      {
        kernel_shape: attrInts([kh, kw]),
        strides: attrInts([stride, stride]),
        pads: attrInts(pads),
        dilations: attrInts([1, 1]),
        group: attrInt(1),
      },
      `${prefix}/conv`,
    );
    if (relu) out = this.g.op('Relu', [out], {}, `${prefix}/relu`);
    return { name: out, c: cout, h: oh, w: ow };
  }

  residual(x: T, prefix: string): T {
    const a = this.convLayer(x, `${prefix}/conv1`, 1, true, 'same');
    const b = this.convLayer(a, `${prefix}/conv2`, 1, false, 'same');
    const sum = this.g.op('Add', [b.name, x.name], {}, `${prefix}/add`);
    return { ...b, name: this.g.op('Relu', [sum], {}, `${prefix}/relu`) };
  }

  residualDown(x: T, prefix: string): T {
    const a = this.convLayer(x, `${prefix}/conv1`, 2, true, 'valid');
    let b = this.convLayer(a, `${prefix}/conv2`, 1, false, 'same');
    let pooled: T = {
      name: this.g.op(
        'AveragePool',
        [x.name],
        { kernel_shape: attrInts([2, 2]), strides: attrInts([2, 2]), pads: attrInts([0, 0, 0, 0]) },
        `${prefix}/avgpool`,
      ),
      c: x.c,
      h: Math.floor((x.h - 2) / 2) + 1,
      w: Math.floor((x.w - 2) / 2) + 1,
    };
    if (b.h !== pooled.h || b.w !== pooled.w) {
      const ph = pooled.h - b.h;
      const pw = pooled.w - b.w;
      const pads = this.g.int64(`${prefix}/pad_hw`, [0, 0, 0, 0, 0, 0, ph, pw]);
      b = { ...b, name: this.g.op('Pad', [b.name, pads], { mode: attrString('constant') }, `${prefix}/pad_hw`), h: pooled.h, w: pooled.w };
    }
    if (pooled.c !== b.c) {
      const pads = this.g.int64(`${prefix}/pad_c`, [0, 0, 0, 0, 0, b.c - pooled.c, 0, 0]);
      pooled = { ...pooled, name: this.g.op('Pad', [pooled.name, pads], { mode: attrString('constant') }, `${prefix}/pad_c`), c: b.c };
    }
    const sum = this.g.op('Add', [pooled.name, b.name], {}, `${prefix}/add`);
    return { ...b, name: this.g.op('Relu', [sum], {}, `${prefix}/relu`) };
  }

  build(): OnnxGraph {
    const g = this.g;
    g.inputs.push({ name: 'input', type: TensorType.FLOAT, shape: ['N', FACEAPI_INPUT, FACEAPI_INPUT, 3] });
    const nchw = g.op('Transpose', ['input'], { perm: attrInts([0, 3, 1, 2]) }, 'to_nchw');
    let x: T = { name: nchw, c: 3, h: FACEAPI_INPUT, w: FACEAPI_INPUT };
    x = this.convLayer(x, 'conv32_down', 2, true, 'valid');
    x = {
      name: g.op('MaxPool', [x.name], { kernel_shape: attrInts([3, 3]), strides: attrInts([2, 2]), pads: attrInts([0, 0, 0, 0]) }, 'maxpool'),
      c: x.c,
      h: Math.floor((x.h - 3) / 2) + 1,
      w: Math.floor((x.w - 3) / 2) + 1,
    };
    for (const p of ['conv32_1', 'conv32_2', 'conv32_3']) x = this.residual(x, p);
    x = this.residualDown(x, 'conv64_down');
    for (const p of ['conv64_1', 'conv64_2', 'conv64_3']) x = this.residual(x, p);
    x = this.residualDown(x, 'conv128_down');
    for (const p of ['conv128_1', 'conv128_2']) x = this.residual(x, p);
    x = this.residualDown(x, 'conv256_down');
    for (const p of ['conv256_1', 'conv256_2']) x = this.residual(x, p);
    x = this.residualDown(x, 'conv256_down_out');
    const pooled = g.op('ReduceMean', [x.name], { axes: attrInts([2, 3]), keepdims: attrInt(0) }, 'global_avg');
    const fc = this.weight('fc');
    const fcW = g.addInitializer('fc/w', fc.shape, Float32Array.from(fc.data));
    g.opNamed('Gemm', [pooled, fcW], 'embedding', { transA: attrInt(0), transB: attrInt(0) });
    g.outputs.push({ name: 'embedding', type: TensorType.FLOAT, shape: ['N', fc.shape[1] ?? 128] });
    return g;
  }
}

/** Build the ONNX graph (not yet encoded, so the quantizer can rewrite it). */
export function buildFaceApiResnet(manifest: WeightGroup[], shard: (path: string) => Uint8Array): OnnxGraph {
  return new ResnetBuilder(decodeWeights(manifest, shard)).build();
}
