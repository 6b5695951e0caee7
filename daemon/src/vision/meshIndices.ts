import type { HeadPose, Point } from './types.js';

/**
 * MediaPipe FaceMesh (468 points) indices used by blinkd. "Right"/"left" are the SUBJECT's:
 * in a non-mirrored camera image the subject's right eye is on the image's left.
 */
export const MESH_POINTS = 468;
/** Six-point eye contours in EAR order p1..p6 (corner, upper, upper, corner, lower, lower). */
export const RIGHT_EYE_EAR = [33, 160, 158, 133, 153, 144] as const;
export const LEFT_EYE_EAR = [362, 385, 387, 263, 373, 380] as const;
/** Full eye contours (for eye centres). */
export const RIGHT_EYE_CONTOUR = [33, 7, 163, 144, 145, 153, 154, 155, 133, 173, 157, 158, 159, 160, 161, 246] as const;
export const LEFT_EYE_CONTOUR = [263, 249, 390, 373, 374, 380, 381, 382, 362, 398, 384, 385, 386, 387, 388, 466] as const;
export const NOSE_TIP = 1;
export const MOUTH_RIGHT = 61;
export const MOUTH_LEFT = 291;
export const FOREHEAD = 10;
export const CHIN = 152;
export const CHEEK_RIGHT = 234;
export const CHEEK_LEFT = 454;

/** A mesh as a flat [x0, y0, z0, x1, …] array in image pixels. */
export type Mesh = Float32Array;

function pt(mesh: Mesh, i: number): Point {
  return { x: mesh[i * 3]!, y: mesh[i * 3 + 1]! };
}

/** Mean image position of these mesh points. */
export function centre(mesh: Mesh, idx: readonly number[]): Point {
  let x = 0,
    y = 0;
  for (const i of idx) {
    x += mesh[i * 3]!;
    y += mesh[i * 3 + 1]!;
  }
  return { x: x / idx.length, y: y / idx.length };
}

/** Five alignment points: image-left eye centre, image-right eye centre, nose tip, image-left mouth corner, image-right mouth corner. */
export function fivePointsFromMesh(mesh: Mesh): Point[] {
  return [centre(mesh, RIGHT_EYE_CONTOUR), centre(mesh, LEFT_EYE_CONTOUR), pt(mesh, NOSE_TIP), pt(mesh, MOUTH_RIGHT), pt(mesh, MOUTH_LEFT)];
}

function dist(a: Point, b: Point): number {
  return Math.hypot(a.x - b.x, a.y - b.y);
}

/** Eye aspect ratio (Soukupová & Čech): (|p2−p6| + |p3−p5|) / (2·|p1−p4|). */
export function eyeAspectRatio(mesh: Mesh, idx: readonly number[]): number {
  const p = idx.map((i) => pt(mesh, i));
  const w = dist(p[0]!, p[3]!);
  return w > 0 ? (dist(p[1]!, p[5]!) + dist(p[2]!, p[4]!)) / (2 * w) : 0;
}

export function earFromMesh(mesh: Mesh): { left: number; right: number } {
  return { left: eyeAspectRatio(mesh, LEFT_EYE_EAR), right: eyeAspectRatio(mesh, RIGHT_EYE_EAR) };
}

function sub(mesh: Mesh, a: number, b: number): [number, number, number] {
  return [mesh[a * 3]! - mesh[b * 3]!, mesh[a * 3 + 1]! - mesh[b * 3 + 1]!, mesh[a * 3 + 2]! - mesh[b * 3 + 2]!];
}

function norm3(v: [number, number, number]): [number, number, number] {
  const l = Math.hypot(v[0], v[1], v[2]) || 1;
  return [v[0] / l, v[1] / l, v[2] / l];
}

/**
 * Head pose in degrees from the mesh's 3-D face axes (cheek to cheek, forehead to chin).
 * Mesh z grows away from the camera, so when the subject turns to their left their left
 * cheek recedes: yaw > 0. Pitch > 0 = looking up; roll > 0 = head tilted clockwise in the image.
 */
export function headPoseFromMesh(mesh: Mesh): HeadPose {
  const x = norm3(sub(mesh, CHEEK_LEFT, CHEEK_RIGHT));
  const y = norm3(sub(mesh, CHIN, FOREHEAD));
  const deg = 180 / Math.PI;
  return {
    yaw: Math.atan2(x[2], Math.hypot(x[0], x[1])) * deg,
    pitch: Math.atan2(-y[2], Math.hypot(y[0], y[1])) * deg,
    roll: Math.atan2(x[1], x[0]) * deg,
  };
}
