import type { FaceQuality, HeadPose, Point } from './types.js';

/** Gates a face must pass to be used for enrollment (and reported for live frames). */
export interface QualityGates {
  /** Minimum inter-ocular distance in image pixels. */
  minEyeDistancePx: number;
  /** Minimum variance of the Laplacian of the aligned crop's luminance. */
  minSharpness: number;
  minBrightness: number;
  maxBrightness: number;
  maxYawDeg: number;
  maxPitchDeg: number;
  maxRollDeg: number;
}

/**
 * Default gates, set from the shared data: every identity photo there passes (the 150×150
 * chips have an eye distance of ~50 px, the smallest sharpness is ~25 on a grayscale chip).
 */
export const DEFAULT_GATES: QualityGates = {
  minEyeDistancePx: 28,
  minSharpness: 8,
  minBrightness: 40,
  maxBrightness: 220,
  maxYawDeg: 30,
  maxPitchDeg: 30,
  maxRollDeg: 45,
};

/** Mean luminance (BT.601) of an interleaved RGB crop, over its central region (the face, not the padding). */
export function luminance(rgb: Uint8Array, width: number, height: number, out = new Float32Array(width * height)): Float32Array {
  for (let i = 0, p = 0; i < out.length; i++, p += 3) out[i] = 0.299 * rgb[p]! + 0.587 * rgb[p + 1]! + 0.114 * rgb[p + 2]!;
  return out;
}

export function centralMean(y: Float32Array, width: number, height: number, frac = 0.5): number {
  const x0 = Math.floor((width * (1 - frac)) / 2),
    x1 = Math.ceil((width * (1 + frac)) / 2);
  const y0 = Math.floor((height * (1 - frac)) / 2),
    y1 = Math.ceil((height * (1 + frac)) / 2);
  let s = 0,
    n = 0;
  for (let r = y0; r < y1; r++)
    for (let c = x0; c < x1; c++) {
      s += y[r * width + c]!;
      n++;
    }
  return n ? s / n : 0;
}

/** Variance of the 4-neighbour Laplacian over the central region (focus measure). */
export function laplacianVariance(y: Float32Array, width: number, height: number, frac = 0.6): number {
  const x0 = Math.max(1, Math.floor((width * (1 - frac)) / 2)),
    x1 = Math.min(width - 1, Math.ceil((width * (1 + frac)) / 2));
  const y0 = Math.max(1, Math.floor((height * (1 - frac)) / 2)),
    y1 = Math.min(height - 1, Math.ceil((height * (1 + frac)) / 2));
  let s = 0,
    s2 = 0,
    n = 0;
  for (let r = y0; r < y1; r++) {
    for (let c = x0; c < x1; c++) {
      const i = r * width + c;
      const v = y[i - 1]! + y[i + 1]! + y[i - width]! + y[i + width]! - 4 * y[i]!;
      s += v;
      s2 += v * v;
      n++;
    }
  }
  return n ? s2 / n - (s / n) ** 2 : 0;
}

export function poseScore(pose: HeadPose): number {
  const worst = Math.max(Math.abs(pose.yaw) / 45, Math.abs(pose.pitch) / 45, Math.abs(pose.roll) / 90);
  return Math.max(0, Math.min(1, 1 - worst));
}

/** Quality of one face from its aligned crop, eye positions and pose, with the reasons it fails the gates. */
export function assessQuality(
  chip: Uint8Array,
  chipSize: number,
  leftEye: Point,
  rightEye: Point,
  pose: HeadPose,
  gates: QualityGates = DEFAULT_GATES,
): FaceQuality {
  const y = luminance(chip, chipSize, chipSize);
  const brightness = centralMean(y, chipSize, chipSize);
  const sharpness = laplacianVariance(y, chipSize, chipSize);
  const faceSizePx = Math.hypot(leftEye.x - rightEye.x, leftEye.y - rightEye.y);
  const ps = poseScore(pose);
  const problems: string[] = [];
  if (faceSizePx < gates.minEyeDistancePx) problems.push(`face too small (eye distance ${faceSizePx.toFixed(0)} px < ${gates.minEyeDistancePx})`);
  if (sharpness < gates.minSharpness) problems.push(`too blurry (sharpness ${sharpness.toFixed(1)} < ${gates.minSharpness})`);
  if (brightness < gates.minBrightness) problems.push(`too dark (brightness ${brightness.toFixed(0)} < ${gates.minBrightness})`);
  if (brightness > gates.maxBrightness) problems.push(`too bright (brightness ${brightness.toFixed(0)} > ${gates.maxBrightness})`);
  if (Math.abs(pose.yaw) > gates.maxYawDeg) problems.push(`head turned (yaw ${pose.yaw.toFixed(0)}° beyond ±${gates.maxYawDeg}°)`);
  if (Math.abs(pose.pitch) > gates.maxPitchDeg) problems.push(`head tilted up/down (pitch ${pose.pitch.toFixed(0)}° beyond ±${gates.maxPitchDeg}°)`);
  if (Math.abs(pose.roll) > gates.maxRollDeg) problems.push(`head tilted sideways (roll ${pose.roll.toFixed(0)}° beyond ±${gates.maxRollDeg}°)`);
  const sizeScore = Math.min(1, faceSizePx / (2 * gates.minEyeDistancePx));
  const sharpScore = Math.min(1, sharpness / (4 * gates.minSharpness));
  const lightScore = brightness < 128 ? Math.min(1, brightness / 100) : Math.min(1, (255 - brightness) / 100);
  const overall = Math.round(100 * sizeScore * sharpScore * lightScore * (0.5 + 0.5 * ps)) / 100;
  return { faceSizePx, sharpness, brightness, poseScore: ps, overall, problems };
}
