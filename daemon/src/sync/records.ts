/**
 * Person records between the unit's plain data (localStore.ts) and the wire (protocol.ts):
 * sealing every template and photo as it leaves, opening and checking every one as it
 * arrives. A v2 envelope that does not open (tampered, moved onto another person, another
 * version or organisation) refuses the whole record, so nothing of it reaches the gallery.
 */
import { bytesToEmbedding, embeddingToBytes, EnvelopeError } from './envelope.js';
import type { KeyRing } from './envelopeKeyRing.js';
import { isEnvelopeV1, openV1 } from './envelopeV1.js';
import type { PersonData, RemotePerson, TemplateData } from './localStore.js';
import type { PersonRecordWire } from './protocol.js';

export function personToWire(p: PersonData, ring: KeyRing): PersonRecordWire {
  const templates = p.deleted
    ? []
    : p.templates.map((t) => ({
        id: t.id,
        model_id: t.modelId,
        dim: t.embedding.length,
        quality: t.quality,
        envelope: ring.seal(
          { kind: 'template', personId: p.id, itemId: t.id, modelId: t.modelId, dim: t.embedding.length, recordVersion: p.version },
          embeddingToBytes(t.embedding),
        ),
      }));
  const photo =
    p.photo && !p.deleted
      ? {
          id: p.photo.id,
          mime: p.photo.mime,
          envelope: ring.seal({ kind: 'photo', personId: p.id, itemId: p.photo.id, modelId: p.photo.mime, dim: 0, recordVersion: p.version }, p.photo.bytes),
        }
      : null;
  return {
    id: p.id,
    version: p.version,
    updated_at: p.updatedAt,
    unit_id: p.unitId,
    deleted: p.deleted,
    name: p.deleted ? '' : p.name,
    status: p.status,
    external_id: p.deleted ? null : p.externalId,
    valid_from: p.deleted ? null : p.validFrom,
    valid_until: p.deleted ? null : p.validUntil,
    schedule: p.deleted ? null : p.schedule,
    notes: p.deleted ? null : p.notes,
    enrolled_at: p.enrolledAt,
    templates,
    photo,
  };
}

export interface OpenContext {
  ring: KeyRing;
  /** The v1 key (PBKDF2 of the organisation password and the configured salt), when the unit imports original-app records. */
  v1Key: Buffer | null;
  /** This unit's device id: a v1 record it re-seals becomes its write. */
  unitId: string;
  now: () => Date;
}

export type Opened = { ok: RemotePerson } | { rejected: string };

/**
 * Opens a pulled record. EnvelopeError 'unknown_key' is thrown (the key ring must be read
 * again: another unit rotated it); every other envelope failure refuses the record.
 */
export function personFromWire(w: PersonRecordWire, c: OpenContext): Opened {
  const templateIssues: string[] = [];
  const importedV1: RemotePerson['importedV1'] = [];
  const templates: TemplateData[] = [];
  const status = w.status === 'ACTIVE' ? 'ACTIVE' : 'DEACTIVATED';
  if (w.status !== 'ACTIVE' && w.status !== 'DEACTIVATED') templateIssues.push(`unknown status "${w.status}" read as DEACTIVATED`);
  let photo: PersonData['photo'] = null;
  if (!w.deleted) {
    for (const t of w.templates) {
      if (isEnvelopeV1(t.envelope)) {
        if (!c.v1Key) {
          templateIssues.push(`template ${t.id} is an original-app (v1) envelope: set the v1 password and salt to import it`);
          continue;
        }
        try {
          const opened = openV1(c.v1Key, t.envelope, t.dim);
          templates.push({ id: t.id, modelId: t.model_id, embedding: opened.embedding, quality: t.quality });
          importedV1.push({ templateId: t.id, encoding: opened.encoding });
        } catch (err) {
          templateIssues.push(`template ${t.id} (v1) not imported: ${(err as Error).message}`);
        }
        continue;
      }
      try {
        const plain = c.ring.open({ kind: 'template', personId: w.id, itemId: t.id, modelId: t.model_id, dim: t.dim, recordVersion: w.version }, t.envelope);
        templates.push({ id: t.id, modelId: t.model_id, embedding: bytesToEmbedding(plain, t.dim), quality: t.quality });
      } catch (err) {
        if (err instanceof EnvelopeError && err.code === 'unknown_key') throw err;
        return { rejected: (err as Error).message };
      }
    }
    if (w.photo) {
      try {
        const bytes = c.ring.open(
          { kind: 'photo', personId: w.id, itemId: w.photo.id, modelId: w.photo.mime, dim: 0, recordVersion: w.version },
          w.photo.envelope,
        );
        photo = { id: w.photo.id, mime: w.photo.mime as 'image/jpeg', bytes };
      } catch (err) {
        if (err instanceof EnvelopeError && err.code === 'unknown_key') throw err;
        return { rejected: (err as Error).message };
      }
    }
  }
  const repush = importedV1.length > 0;
  const person: PersonData = {
    id: w.id,
    // A v1 import is this unit's write: the next version, re-sealed as v2 when the outbox pushes it.
    version: repush ? w.version + 1 : w.version,
    updatedAt: repush ? c.now().toISOString() : w.updated_at,
    unitId: repush ? c.unitId : w.unit_id,
    deleted: w.deleted,
    name: w.name,
    status,
    externalId: w.external_id,
    validFrom: w.valid_from,
    validUntil: w.valid_until,
    schedule: w.schedule,
    notes: w.notes,
    enrolledAt: w.enrolled_at,
    templates,
    photo,
  };
  return { ok: { person, repush, templateIssues, importedV1 } };
}
