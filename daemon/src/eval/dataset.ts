import { readdirSync, statSync } from 'node:fs';
import { extname, join } from 'node:path';

/** Folders that are not identities: distractors are impostors without identity; the rest are skipped. */
export const DISTRACTOR_DIR = 'distractors';
export const SKIPPED_DIRS = new Set(['group_photos', 'no_face', 'labels']);
const IMAGE_EXT = new Set(['.jpg', '.jpeg', '.png', '.webp', '.bmp', '.gif', '.tif', '.tiff', '.avif']);

export interface LabelledImage {
  path: string;
  /** null for distractors. */
  identity: string | null;
}

export interface Dataset {
  root: string;
  images: LabelledImage[];
  identities: string[];
}

/** DIR/<identity>/<image> (sorted, so "the first image" of an identity is well defined). */
export function scanDataset(root: string): Dataset {
  let entries: string[];
  try {
    entries = readdirSync(root).sort();
  } catch (err) {
    throw new Error(`cannot read dataset folder ${root}: ${(err as Error).message}`);
  }
  const images: LabelledImage[] = [];
  const identities: string[] = [];
  for (const name of entries) {
    const dir = join(root, name);
    if (!statSync(dir).isDirectory() || SKIPPED_DIRS.has(name) || name.startsWith('.')) continue;
    const files = readdirSync(dir)
      .filter((f) => IMAGE_EXT.has(extname(f).toLowerCase()) && statSync(join(dir, f)).isFile())
      .sort((a, b) => a.localeCompare(b, 'en', { numeric: true }));
    if (files.length === 0) continue;
    const identity = name === DISTRACTOR_DIR ? null : name;
    if (identity) identities.push(identity);
    for (const f of files) images.push({ path: join(dir, f), identity });
  }
  if (identities.length === 0) throw new Error(`no identity folders with images under ${root} (expected DIR/<identity>/<image>)`);
  return { root, images, identities };
}
