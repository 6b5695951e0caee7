import type { AnalyzedImage, EnrollImage } from '../vision/enroller.js';
import type { EnrollOutcome, PeopleRegistry, TemplateSource } from './peopleRegistry.js';
import { makeThumbnail } from './thumbnail.js';

export interface PhotoEnrollment {
  person: { name: string; externalId?: string | null } | { id: string };
  images: EnrollImage[];
  source: TemplateSource;
  actor: string;
  /** access.threshold: a face this similar to someone else is a duplicate. */
  duplicateThreshold: number;
  /** Keep a thumbnail of the best photo (admin.thumbnailRetentionDays > 0). */
  keepThumbnail: boolean;
}

export interface PhotoEnrollmentResult extends EnrollOutcome {
  modelId: string;
  images: AnalyzedImage[];
}

/** Analyses photos (wherever the pipeline runs) and returns the faces with the embedder's id. */
export type AnalyzePhotos = (images: EnrollImage[]) => Promise<{ modelId: string; faces: AnalyzedImage[] }>;

/**
 * Enrollment from photos, the same from the admin (upload or camera captures) and the CLI: every
 * photo is analysed first (nothing is written when one fails), a thumbnail is cut from the best
 * one, and the registry checks for duplicates and writes the person, templates, thumbnail and
 * audit entry in one transaction.
 */
export async function enrollFromPhotos(analyze: AnalyzePhotos, registry: PeopleRegistry, req: PhotoEnrollment): Promise<PhotoEnrollmentResult> {
  const { modelId, faces } = await analyze(req.images);
  let thumbnail: Buffer | null = null;
  if (req.keepThumbnail && faces.length) {
    const best = faces.reduce((b, f, i) => (f.quality.overall > faces[b]!.quality.overall ? i : b), 0);
    thumbnail = await makeThumbnail(req.images[best]!.data, faces[best]!.box, faces[best]!.analysedSize).catch(() => null);
  }
  const outcome = registry.enroll({
    person: req.person,
    faces: faces.map((f) => ({ embedding: f.embedding, quality: f.quality.overall, box: f.box, name: f.name, chip: f.chip })),
    modelId,
    source: req.source,
    duplicateThreshold: req.duplicateThreshold,
    thumbnail,
    actor: req.actor,
  });
  return { ...outcome, modelId, images: faces };
}
