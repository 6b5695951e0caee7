/**
 * The sync protocol's wire shapes (v2, under /api/v2): one description, used by the sync
 * server as its Fastify request/response schemas (validation and OpenAPI) and by the unit's
 * sync client to validate every response it gets. docs/SYNC.md explains them.
 *
 * In clear on the wire, as in the original system (head office reads them): person ids,
 * names, status, validity, attendance. Encrypted: every template and any face image
 * (envelope v2, envelopeV2.ts).
 */
import { ID_PATTERN } from './requestSigning.js';

export const RECORD_ID_PATTERN = '^[A-Za-z0-9_.:@-]{1,160}$';
const ISO_TIME = '^\\d{4}-\\d{2}-\\d{2}T\\d{2}:\\d{2}:\\d{2}(\\.\\d{1,9})?(Z|[+-]\\d{2}:?\\d{2})$';
const ISO_DATE = '^\\d{4}-\\d{2}-\\d{2}$';
const B64 = '^[A-Za-z0-9+/]*={0,2}$';
export const CURSOR_PATTERN = '^\\d{1,18}$';

export type PersonStatus = 'ACTIVE' | 'DEACTIVATED';

export interface EnvelopeV2Wire {
  v: 2;
  kid: string;
  iv: string;
  ct: string;
  tag: string;
}
/** The original system's envelope (only on records the original app wrote through legacy mode). */
export interface EnvelopeV1Wire {
  ciphertext: string;
  iv: string;
  tag: string;
}

export interface TemplateWire {
  id: string;
  model_id: string;
  dim: number;
  quality: number | null;
  envelope: EnvelopeV2Wire | EnvelopeV1Wire;
}

export interface PhotoWire {
  id: string;
  mime: string;
  envelope: EnvelopeV2Wire;
}

/** One person as it travels: the whole current state (not a diff), last-writer-wins by (version, deleted, updated_at, unit_id). */
export interface PersonRecordWire {
  id: string;
  version: number;
  updated_at: string;
  /** The unit (device id) that wrote this version; 'legacy' for the original app. */
  unit_id: string;
  /** A tombstone: the person was deleted (name erased, no templates). */
  deleted: boolean;
  name: string;
  status: string;
  external_id: string | null;
  valid_from: string | null;
  valid_until: string | null;
  schedule: unknown[] | null;
  notes: string | null;
  enrolled_at: string;
  templates: TemplateWire[];
  photo: PhotoWire | null;
}

export interface PushPeopleRequest {
  people: PersonRecordWire[];
  /** The unit's pull cursor (see PeopleStore.push: edits by a unit away past the tombstone horizon). */
  since?: string;
}
export type PushOutcome = 'applied' | 'duplicate' | 'stale';
export interface PushPeopleResponse {
  results: Array<{ id: string; version: number; outcome: PushOutcome }>;
  head: string;
}

export interface PullPeopleResponse {
  changes: PersonRecordWire[];
  /** The cursor to ask with next (and to store with the applied page). */
  next_since: string;
  has_more: boolean;
  /** This page belongs to a full snapshot (the unit's cursor was older than the oldest kept tombstone, or it had none). */
  snapshot: boolean;
  /**
   * Set on the page where a snapshot starts: 'fresh' (no cursor), 'horizon' (the cursor is older
   * than the oldest kept tombstone), 'ahead' (the cursor is ahead of the server: it was restored
   * from a backup, and the unit should push everything it has before taking the snapshot).
   */
  snapshot_reason: 'fresh' | 'horizon' | 'ahead' | null;
  /** The organisation's newest change number when the page was read. */
  head: string;
}

export type AttendanceKind = 'CHECK_IN' | 'CHECK_OUT';
export interface AttendanceRowWire {
  id: string;
  person_id: string;
  timestamp: string;
  status: AttendanceKind;
  punctuality: 'ON_TIME' | 'LATE' | null;
}
export interface PushAttendanceRequest {
  rows: AttendanceRowWire[];
}
export interface PushAttendanceResponse {
  results: Array<{ id: string; outcome: 'inserted' | 'duplicate' }>;
}

export interface KeyRingResponse {
  version: number;
  keyring: Record<string, unknown> | null;
  usage: Record<string, number>;
}
export interface PutKeyRingRequest {
  if_version: number;
  keyring: Record<string, unknown>;
}

export interface RegisterRequest {
  org: string;
  device_id: string;
  name: string;
  public_key: string;
  claim_code?: string;
}
export type DeviceStatus = 'PENDING' | 'ACTIVE' | 'REVOKED';
export interface DeviceInfo {
  org: string;
  device_id: string;
  name: string;
  status: DeviceStatus;
  created_at: string;
  approved_at: string | null;
}

export interface DigestResponse {
  count: number;
  sha256: string;
  head: string;
}

// ---- JSON Schemas (draft-07, as Fastify's Ajv reads them) ----

const str = (max: number, extra: Record<string, unknown> = {}) => ({ type: 'string', maxLength: max, ...extra }) as const;
const nullable = (s: Record<string, unknown>) => ({ anyOf: [s, { type: 'null' }] });

export const envelopeV2Schema = {
  type: 'object',
  required: ['v', 'kid', 'iv', 'ct', 'tag'],
  additionalProperties: false,
  properties: {
    v: { const: 2 },
    kid: str(64, { pattern: ID_PATTERN }),
    iv: str(16, { minLength: 16, pattern: B64 }),
    ct: str(1_400_000, { minLength: 4, pattern: B64 }),
    tag: str(24, { minLength: 24, pattern: B64 }),
  },
} as const;

export const envelopeV1Schema = {
  type: 'object',
  required: ['ciphertext', 'iv', 'tag'],
  properties: { ciphertext: str(100_000), iv: str(64), tag: str(64) },
} as const;

const templateSchema = (envelope: Record<string, unknown>) =>
  ({
    type: 'object',
    required: ['id', 'model_id', 'dim', 'envelope'],
    additionalProperties: false,
    properties: {
      id: str(160, { pattern: RECORD_ID_PATTERN }),
      model_id: str(128, { minLength: 1 }),
      dim: { type: 'integer', minimum: 1, maximum: 4096 },
      quality: nullable({ type: 'number' }),
      envelope,
    },
  }) as const;

const photoSchema = {
  type: 'object',
  required: ['id', 'mime', 'envelope'],
  additionalProperties: false,
  properties: { id: str(160, { pattern: RECORD_ID_PATTERN }), mime: { enum: ['image/jpeg', 'image/png', 'image/webp'] }, envelope: envelopeV2Schema },
} as const;

const personSchema = (pushing: boolean) =>
  ({
    type: 'object',
    required: ['id', 'version', 'updated_at', 'unit_id', 'deleted', 'name', 'status', 'enrolled_at', 'templates'],
    additionalProperties: false,
    properties: {
      id: str(160, { pattern: pushing ? RECORD_ID_PATTERN : '^.{1,160}$' }),
      version: { type: 'integer', minimum: 1, maximum: Number.MAX_SAFE_INTEGER },
      updated_at: str(40, { pattern: ISO_TIME }),
      unit_id: str(64, { pattern: pushing ? ID_PATTERN : '^.{1,64}$' }),
      deleted: { type: 'boolean' },
      name: str(200),
      status: pushing ? { enum: ['ACTIVE', 'DEACTIVATED'] } : str(64),
      external_id: nullable(str(128)),
      valid_from: nullable(str(10, { pattern: ISO_DATE })),
      valid_until: nullable(str(10, { pattern: ISO_DATE })),
      schedule: nullable({ type: 'array', maxItems: 64, items: { type: 'object' } }),
      notes: nullable(str(2000)),
      enrolled_at: str(64),
      templates: { type: 'array', maxItems: 20, items: templateSchema(pushing ? envelopeV2Schema : { anyOf: [envelopeV2Schema, envelopeV1Schema] }) },
      photo: nullable(photoSchema),
    },
  }) as const;

export const personPushSchema = personSchema(true);
export const personPullSchema = personSchema(false);

export const pushPeopleRequestSchema = (maxItems: number) =>
  ({
    type: 'object',
    required: ['people'],
    additionalProperties: false,
    properties: { people: { type: 'array', minItems: 1, maxItems, items: personPushSchema }, since: { type: 'string', pattern: CURSOR_PATTERN } },
  }) as const;

export const pushPeopleResponseSchema = {
  type: 'object',
  required: ['results', 'head'],
  properties: {
    results: {
      type: 'array',
      items: {
        type: 'object',
        required: ['id', 'version', 'outcome'],
        properties: { id: { type: 'string' }, version: { type: 'integer' }, outcome: { enum: ['applied', 'duplicate', 'stale'] } },
      },
    },
    head: { type: 'string', pattern: CURSOR_PATTERN },
  },
} as const;

export const pullPeopleQuerySchema = {
  type: 'object',
  additionalProperties: false,
  properties: {
    since: { type: 'string', pattern: CURSOR_PATTERN },
    limit: { type: 'string', pattern: '^\\d{1,5}$' },
    snapshot: { enum: ['0', '1'] },
  },
} as const;

export const pullPeopleResponseSchema = {
  type: 'object',
  required: ['changes', 'next_since', 'has_more', 'snapshot', 'snapshot_reason', 'head'],
  properties: {
    changes: { type: 'array', items: personPullSchema },
    next_since: { type: 'string', pattern: CURSOR_PATTERN },
    has_more: { type: 'boolean' },
    snapshot: { type: 'boolean' },
    snapshot_reason: { anyOf: [{ enum: ['fresh', 'horizon', 'ahead'] }, { type: 'null' }] },
    head: { type: 'string', pattern: CURSOR_PATTERN },
  },
} as const;

export const attendanceRowSchema = {
  type: 'object',
  required: ['id', 'person_id', 'timestamp', 'status'],
  additionalProperties: false,
  properties: {
    id: str(160, { pattern: RECORD_ID_PATTERN }),
    person_id: str(160, { minLength: 1 }),
    timestamp: str(40, { pattern: ISO_TIME }),
    status: { enum: ['CHECK_IN', 'CHECK_OUT'] },
    punctuality: { anyOf: [{ enum: ['ON_TIME', 'LATE'] }, { type: 'null' }] },
  },
} as const;

export const pushAttendanceRequestSchema = (maxItems: number) =>
  ({
    type: 'object',
    required: ['rows'],
    additionalProperties: false,
    properties: { rows: { type: 'array', minItems: 1, maxItems, items: attendanceRowSchema } },
  }) as const;

export const pushAttendanceResponseSchema = {
  type: 'object',
  required: ['results'],
  properties: {
    results: {
      type: 'array',
      items: { type: 'object', required: ['id', 'outcome'], properties: { id: { type: 'string' }, outcome: { enum: ['inserted', 'duplicate'] } } },
    },
  },
} as const;

export const keyRingResponseSchema = {
  type: 'object',
  required: ['version', 'keyring', 'usage'],
  properties: {
    version: { type: 'integer', minimum: 0 },
    keyring: { anyOf: [{ type: 'object', additionalProperties: true }, { type: 'null' }] },
    usage: { type: 'object', additionalProperties: { type: 'integer' } },
  },
} as const;

export const putKeyRingRequestSchema = {
  type: 'object',
  required: ['if_version', 'keyring'],
  additionalProperties: false,
  properties: {
    if_version: { type: 'integer', minimum: 0 },
    keyring: { type: 'object', additionalProperties: true },
  },
} as const;

export const registerRequestSchema = {
  type: 'object',
  required: ['org', 'device_id', 'name', 'public_key'],
  additionalProperties: false,
  properties: {
    org: str(64, { pattern: ID_PATTERN }),
    device_id: str(64, { pattern: ID_PATTERN }),
    name: str(100, { minLength: 1 }),
    public_key: str(43, { minLength: 43, pattern: '^[A-Za-z0-9_-]{43}$' }),
    claim_code: str(40, { pattern: '^[A-Za-z0-9-]{8,40}$' }),
  },
} as const;

export const deviceInfoSchema = {
  type: 'object',
  required: ['org', 'device_id', 'name', 'status', 'created_at', 'approved_at'],
  properties: {
    org: { type: 'string' },
    device_id: { type: 'string' },
    name: { type: 'string' },
    status: { enum: ['PENDING', 'ACTIVE', 'REVOKED'] },
    created_at: { type: 'string' },
    approved_at: { type: ['string', 'null'] },
  },
} as const;

export const rotateRequestSchema = {
  type: 'object',
  required: ['public_key'],
  additionalProperties: false,
  properties: { public_key: registerRequestSchema.properties.public_key },
} as const;

export const digestResponseSchema = {
  type: 'object',
  required: ['count', 'sha256', 'head'],
  properties: { count: { type: 'integer' }, sha256: { type: 'string', pattern: '^[0-9a-f]{64}$' }, head: { type: 'string', pattern: CURSOR_PATTERN } },
} as const;

/** The header carrying the new key's signature of the same request (device key rotation). */
export const NEW_KEY_SIGNATURE_HEADER = 'x-blink-new-key-signature';
