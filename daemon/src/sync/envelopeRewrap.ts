/**
 * v1 → v2: opens an original-system envelope with the v1 key and seals the same embedding as
 * a v2 envelope bound to its new place. The person is never asked to enroll again; the
 * template keeps the original's model id, so it is never used for matching by another model.
 */
import { embeddingToBytes } from './envelope.js';
import type { KeyRing } from './envelopeKeyRing.js';
import { openV1, V1_DIMENSION, type OpenedV1 } from './envelopeV1.js';
import type { EnvelopeContext, EnvelopeV2 } from './envelopeV2.js';

export interface RewrappedV1 extends OpenedV1 {
  envelope: EnvelopeV2;
}

export function rewrapV1(
  v1Key: Buffer,
  v1Envelope: unknown,
  ring: KeyRing,
  ctx: Omit<EnvelopeContext, 'org' | 'kind' | 'dim'>,
  expectedDim = V1_DIMENSION,
): RewrappedV1 {
  const opened = openV1(v1Key, v1Envelope, expectedDim);
  const envelope = ring.seal({ ...ctx, kind: 'template', dim: opened.embedding.length }, embeddingToBytes(opened.embedding));
  return { ...opened, envelope };
}
