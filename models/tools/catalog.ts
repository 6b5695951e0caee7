/**
 * The models the door ships: where each comes from, how it is converted, and the runtime
 * contract (input/output names, shapes, pixel normalisation) recorded in models/manifest.json.
 */
import { FACE_API, HUMAN_MODELS, type PinnedPackage } from './sources.js';
import type { ModelNormalization as Normalization, ModelTask as Task } from '../../daemon/src/vision/modelManifest.js';

// The runtime contract types are the daemon's (the manifest reader); the toolchain writes them.
export type { Normalization, Task };

export interface CatalogEntry {
  id: string;
  task: Task;
  precision: 'fp32' | 'int8';
  pkg: PinnedPackage;
  /** files within the package tarball (paths relative to package/) */
  files: string[];
  /** output path relative to models/ */
  output: string;
  kind: 'tfjs-graph' | 'faceapi-resnet';
  /** tfjs node -> ONNX output name (tfjs-graph only) */
  outputs?: [string, string][];
  /** for int8: the fp32 model it is quantised from and its calibration table */
  quantizedFrom?: string;
  calibration?: string;
  normalization: Normalization;
  notes: string;
}

const MINUS_ONE_TO_ONE: Normalization = { scale: 1, mean: [127.5, 127.5, 127.5], std: [127.5, 127.5, 127.5], channelOrder: 'RGB' };
const ZERO_TO_ONE: Normalization = { scale: 1, mean: [0, 0, 0], std: [255, 255, 255], channelOrder: 'RGB' };
const FACEAPI_NORM: Normalization = { scale: 1, mean: [122.782, 117.001, 104.298], std: [255, 255, 255], channelOrder: 'RGB' };

const FACEAPI_FILES = ['model/face_recognition_model-weights_manifest.json', 'model/face_recognition_model.bin'];

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
    outputs: [
      ['Identity_2', 'mesh'],
      ['Identity_1', 'face_flag'],
      ['Identity', 'contours'],
    ],
    normalization: ZERO_TO_ONE,
    notes: 'MediaPipe FaceMesh on a 192x192 face crop: mesh = 468 x (x, y, z) in crop pixels; face_flag = face presence (sigmoid); contours = 133 x 2 (unused)',
  },
  {
    id: 'antispoof',
    task: 'antispoof',
    precision: 'fp32',
    pkg: HUMAN_MODELS,
    files: ['models/antispoof.json', 'models/antispoof.bin'],
    output: 'onnx/antispoof.onnx',
    kind: 'tfjs-graph',
    outputs: [['Identity', 'score']],
    normalization: ZERO_TO_ONE,
    notes: 'Human anti-spoofing on a 128x128 face crop; score = sigmoid, Human reads it as "real" probability',
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
