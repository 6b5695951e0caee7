import type { FastifyInstance, FastifyRequest } from 'fastify';
import type { MultipartFile } from '@fastify/multipart';
import sharp from 'sharp';
import { z } from 'zod';
import { weeklyWindowSchema } from '../../config/schema.js';
import { PERSON_NAME_MAX, personNameProblem, type PersonKey } from '../../registry/peopleRegistry.js';
import { enrollFromPhotos, type PhotoEnrollmentResult } from '../../registry/enrollFromPhotos.js';
import { EnrollError } from '../../vision/enrollError.js';
import { Admission } from '../../util/admission.js';
import { actorOf, type AdminContext } from '../adminContext.js';
import type { EnrollImage } from '../faceServices.js';
import { HttpError, badRequest, errorSchema, notFound } from '../httpErrors.js';

const MAX_PHOTOS = 10;
const DEFAULT_LIMIT = 100;
const MAX_LIMIT = 500;

interface PeopleListQuery {
  limit?: number;
  offset?: number;
  after?: string;
  before?: string;
  status?: 'ACTIVE' | 'DEACTIVATED';
  search?: string;
  q?: string;
  sort?: 'name' | '-name';
}
const LIST_PARAMS = new Set(['limit', 'offset', 'after', 'before', 'status', 'search', 'q', 'sort']);
/** What each list parameter must be, for 400 messages that say how to fix the request. */
const LIST_PARAM_RULES: Record<string, string> = {
  limit: `must be a whole number from 1 to ${MAX_LIMIT}`,
  offset: 'must be a whole number, 0 or more',
  after: 'must be the nextCursor of an earlier page',
  before: 'must be the prevCursor of an earlier page',
  status: 'must be ACTIVE or DEACTIVATED',
  search: 'at most 100 characters',
  q: 'at most 100 characters',
  sort: 'must be name (A–Z) or -name (Z–A)',
};

const listBadRequest = (parameter: string, message: string) => new HttpError(400, 'invalid_parameter', `${parameter}: ${message}`, { parameter });

/** A schema error on the list's query string → 400 naming the parameter, its rule and the value sent. */
function queryError(err: Error & { validation?: Array<{ instancePath?: string; params?: Record<string, unknown> }> }, url: string): HttpError {
  const first = err.validation?.[0];
  const parameter = first?.instancePath?.replace(/^\//, '') || String(first?.params?.missingProperty ?? '') || 'query';
  const sent = new URLSearchParams(url.split('?')[1] ?? '').getAll(parameter);
  const got = sent.length ? ` (got ${sent.map((v) => JSON.stringify(v.length > 40 ? v.slice(0, 40) + '…' : v)).join(', ')})` : '';
  return listBadRequest(parameter, (LIST_PARAM_RULES[parameter] ?? err.message) + got);
}

/** A cursor is the (name, id) of a row, as it was when the page was served: base64url JSON, opaque to callers. */
function encodeCursor(p: PersonKey): string {
  return Buffer.from(JSON.stringify([p.name, p.id])).toString('base64url');
}

function decodeCursor(parameter: 'after' | 'before', cursor: string): PersonKey {
  try {
    const v = JSON.parse(Buffer.from(cursor, 'base64url').toString('utf8')) as unknown;
    if (Array.isArray(v) && v.length === 2 && typeof v[0] === 'string' && typeof v[1] === 'string' && v[1].length > 0) return { name: v[0], id: v[1] };
  } catch {
    /* falls through */
  }
  throw listBadRequest(parameter, `${LIST_PARAM_RULES[parameter]} (this one is not a cursor from this API)`);
}

export const personSchema = {
  type: 'object',
  properties: {
    id: { type: 'string' },
    externalId: { type: ['string', 'null'] },
    name: { type: 'string' },
    status: { type: 'string', enum: ['ACTIVE', 'DEACTIVATED'] },
    validFrom: { type: ['string', 'null'] },
    validUntil: { type: ['string', 'null'] },
    schedule: {
      type: ['array', 'null'],
      items: { type: 'object', properties: { days: { type: 'array', items: { type: 'string' } }, start: { type: 'string' }, end: { type: 'string' } } },
    },
    notes: { type: ['string', 'null'] },
    createdAt: { type: 'string' },
    updatedAt: { type: 'string' },
    templates: { type: 'integer', description: 'templates of every face model' },
    currentTemplates: { type: ['integer', 'null'], description: 'templates of the running face model (the ones the door matches); null when no model runs' },
    needsReenrollment: {
      type: 'boolean',
      description: 'no template of the running face model (enrolled with another one): the door does not recognise this person until they are enrolled again',
    },
    hasThumbnail: { type: 'boolean' },
  },
} as const;

const peoplePageSchema = {
  type: 'object',
  properties: {
    items: { type: 'array', items: personSchema },
    total: { type: 'integer', description: 'people matching status and search (all pages)' },
    offset: { type: 'integer', description: 'row number of the first item in the order (0-based)' },
    limit: { type: 'integer' },
    nextCursor: { type: ['string', 'null'], description: 'pass as `after` for the next page; null on the last page' },
    prevCursor: { type: ['string', 'null'], description: 'pass as `before` for the previous page; null on the first page' },
  },
  required: ['items', 'total', 'offset', 'limit', 'nextCursor', 'prevCursor'],
} as const;

const isoDate = z
  .string()
  .regex(/^\d{4}-\d{2}-\d{2}$/, 'a date as YYYY-MM-DD')
  .nullable();
const patchSchema = z
  .object({
    name: z.string().trim().min(1, 'the name must not be empty').max(PERSON_NAME_MAX),
    externalId: z
      .string()
      .trim()
      .max(64)
      .nullable()
      .transform((v) => (v ? v : null)),
    status: z.enum(['ACTIVE', 'DEACTIVATED']),
    validFrom: isoDate,
    validUntil: isoDate,
    schedule: z.array(weeklyWindowSchema).max(20).nullable(),
    notes: z.string().max(1000).nullable(),
  })
  .partial()
  .strict();

/** Reads every uploaded photo; rejects a non-image or a corrupt one by name before anything is written. */
async function readPhotos(req: FastifyRequest): Promise<{ fields: Record<string, string>; images: EnrollImage[] }> {
  if (!req.isMultipart()) throw badRequest('send the photos as multipart/form-data (fields: name, photos)');
  const fields: Record<string, string> = {};
  const images: EnrollImage[] = [];
  for await (const part of req.parts()) {
    if (part.type === 'file') {
      const file = part as MultipartFile;
      if (images.length >= MAX_PHOTOS) throw badRequest(`at most ${MAX_PHOTOS} photos per enrollment`);
      const data = await file.toBuffer(); // throws 413 past admin.maxUploadMb
      images.push({ name: file.filename || `photo ${images.length + 1}`, data });
    } else {
      fields[part.fieldname] = String(part.value ?? '');
    }
  }
  for (const img of images) await assertImage(img);
  return { fields, images };
}

export async function assertImage(img: EnrollImage): Promise<void> {
  if (img.data.length === 0) throw new HttpError(400, 'not_an_image', `"${img.name}" is empty`);
  try {
    const meta = await sharp(img.data, { failOn: 'error' }).metadata();
    if (!meta.width || !meta.height || !['jpeg', 'png', 'webp', 'gif', 'tiff', 'heif', 'avif'].includes(meta.format ?? '')) throw new Error('unsupported');
    // Decode fully: a truncated JPEG passes the header check and fails here.
    await sharp(img.data, { failOn: 'error' }).resize(8, 8).raw().toBuffer();
  } catch {
    throw new HttpError(400, 'not_an_image', `"${img.name}" is not a readable image (use JPEG, PNG or WebP photos)`);
  }
}

/** Maps the enrollment error to HTTP: 400 not an image or invalid, 404 no such person, 409 duplicate, 422 unusable face, 503 vision not running. */
export function enrollErrorToHttp(err: unknown, images: EnrollImage[] = []): unknown {
  if (!(err instanceof EnrollError)) return err;
  const which = err.imageIndex !== null && images[err.imageIndex] ? images[err.imageIndex]!.name : null;
  const prefix = which && !err.message.startsWith(which) ? `"${which}": ` : '';
  const status = { not_an_image: 400, invalid: 400, not_found: 404, duplicate: 409, no_face: 422, multiple_faces: 422, poor_quality: 422, unavailable: 503 }[
    err.kind
  ];
  return new HttpError(status, err.kind, prefix + err.message, { image: which, ...err.details });
}

/**
 * Enrollment from the admin (uploaded photos or camera captures): the one path through
 * enrollFromPhotos — analysed in the admin's worker, then the people registry writes the person,
 * templates, thumbnail and audit entry in one transaction and tells everyone.
 */
export async function enrollFromAdmin(
  admin: AdminContext,
  req: FastifyRequest,
  person: { name: string; externalId?: string | null } | { id: string },
  images: EnrollImage[],
  source: 'upload' | 'camera',
): Promise<PhotoEnrollmentResult> {
  try {
    return await enrollFromPhotos((imgs) => admin.faces.analyzePhotos(imgs), admin.registry, {
      person,
      images,
      source,
      actor: actorOf(req),
      // a face the door would take for someone else is a duplicate
      duplicateThreshold: admin.operatingPoint?.thresholds().threshold ?? admin.config.access.threshold ?? 1.01,
      keepThumbnail: admin.config.admin.thumbnailRetentionDays > 0,
    });
  } catch (err) {
    throw enrollErrorToHttp(err, images);
  }
}

/**
 * Photo enrollments run one at a time, with 2 more waiting; more are refused with 503 busy before
 * their photos are read. Each holds up to admin.maxUploadMb of uploads plus the decoded images in
 * the enrollment worker: three concurrent 10-photo uploads took the daemon from 290 MB to 980 MB.
 */
function enrollmentAdmission(): Admission {
  return new Admission(1, 2, () => new HttpError(503, 'busy', 'other enrollments are being processed: try again in a minute'));
}

export function peopleRoutes(app: FastifyInstance, admin: AdminContext): void {
  const { registry } = admin;
  const enrollments = enrollmentAdmission();

  const enrolled = (r: PhotoEnrollmentResult) => ({
    person: registry.row(r.person.id),
    templates: r.templates,
    images: r.images.map((i) => ({ name: i.name, quality: i.quality.overall, box: i.box })),
  });

  app.get<{ Querystring: PeopleListQuery }>(
    '/api/v1/people',
    {
      attachValidation: true, // the handler turns schema errors into messages that name the parameter
      schema: {
        tags: ['people'],
        summary: 'List people: one page in name order, filtered by status and search, with the total',
        description:
          'Page with the cursors: pass `nextCursor` as `after` for the next page and `prevCursor` as `before` for the previous one. ' +
          'A cursor is a position in the name order, so renames, enrollments and deletions elsewhere in the list do not shift the next page ' +
          '(with `offset` they would: a deletion on an earlier page skips someone). `offset` is for jumping to a row number.',
        querystring: {
          type: 'object',
          properties: {
            limit: { type: 'integer', minimum: 1, maximum: MAX_LIMIT, default: DEFAULT_LIMIT, description: `people per page (1–${MAX_LIMIT})` },
            offset: { type: 'integer', minimum: 0, maximum: 10_000_000, description: 'start at this row (not with after/before)' },
            after: { type: 'string', maxLength: 600, description: 'the `nextCursor` of the page before' },
            before: { type: 'string', maxLength: 600, description: 'the `prevCursor` of the page after' },
            status: { type: 'string', enum: ['ACTIVE', 'DEACTIVATED'] },
            search: { type: 'string', maxLength: 100, description: 'part of the name or the employee / badge ID (case-insensitive)' },
            q: { type: 'string', maxLength: 100, description: 'older name of `search`' },
            sort: { type: 'string', enum: ['name', '-name'], default: 'name', description: 'name A–Z, or -name for Z–A' },
          },
        },
        response: { 200: peoplePageSchema, 400: errorSchema },
      },
    },
    async (req) => {
      if (req.validationError) throw queryError(req.validationError, req.raw.url ?? '');
      const unknown = Object.keys(req.query).filter((k) => !LIST_PARAMS.has(k));
      if (unknown.length) throw listBadRequest(unknown[0]!, `unknown parameter (use ${[...LIST_PARAMS].filter((p) => p !== 'q').join(', ')})`);
      const { limit = DEFAULT_LIMIT, offset, status, sort = 'name' } = req.query;
      if (req.query.search !== undefined && req.query.q !== undefined) throw listBadRequest('q', 'give search or q (its older name), not both');
      const search = (req.query.search ?? req.query.q ?? '').trim() || undefined;
      const paging = ['offset', 'after', 'before'].filter((k) => req.query[k as keyof PeopleListQuery] !== undefined);
      if (paging.length > 1) throw listBadRequest(paging[1]!, `use one of offset, after and before, not ${paging.join(' and ')}`);
      const after = req.query.after !== undefined ? decodeCursor('after', req.query.after) : undefined;
      const before = req.query.before !== undefined ? decodeCursor('before', req.query.before) : undefined;
      const descending = sort === '-name';
      const filter = { search, status };

      // One read snapshot (no write lock, the door keeps writing) so the total and the page agree.
      const { items, position, total } = registry.page({ filter, limit, offset, after, before, descending });
      const last = items[items.length - 1];
      return {
        items,
        total,
        offset: position,
        limit,
        nextCursor: last && position + items.length < total ? encodeCursor(last) : null,
        prevCursor: items[0] && position > 0 ? encodeCursor(items[0]) : null,
      };
    },
  );

  app.get<{ Params: { id: string } }>(
    '/api/v1/people/:id',
    {
      schema: {
        tags: ['people'],
        summary: 'One person',
        params: { type: 'object', properties: { id: { type: 'string', maxLength: 64 } } },
        response: { 200: personSchema, 404: errorSchema },
      },
    },
    async (req) => {
      const p = registry.row(req.params.id);
      if (!p) throw notFound('person');
      return p;
    },
  );

  app.get<{ Params: { id: string } }>(
    '/api/v1/people/:id/thumbnail',
    {
      schema: {
        tags: ['people'],
        summary: "The person's face thumbnail (JPEG; stays on the unit)",
        params: { type: 'object', properties: { id: { type: 'string', maxLength: 64 } } },
      },
    },
    async (req, reply) => {
      const jpeg = registry.thumbnail(req.params.id);
      if (!jpeg) throw notFound('thumbnail');
      return reply.type('image/jpeg').header('cache-control', 'private, max-age=60').send(jpeg);
    },
  );

  app.post(
    '/api/v1/people',
    {
      schema: {
        tags: ['people'],
        summary: 'Enroll a new person from photos (multipart: name, externalId?, photos × 1–10; 3–5 recommended)',
        consumes: ['multipart/form-data'],
        response: {
          200: {
            type: 'object',
            properties: {
              person: personSchema,
              templates: { type: 'integer' },
              images: { type: 'array', items: { type: 'object', additionalProperties: true } },
            },
          },
          400: errorSchema,
          409: errorSchema,
          413: errorSchema,
          422: errorSchema,
          503: errorSchema,
        },
      },
    },
    async (req) => {
      return enrollments.run(async () => {
        const { fields, images } = await readPhotos(req);
        const name = (fields.name ?? '').trim();
        if (!name) throw badRequest("name: enter the person's name");
        const nameProblem = personNameProblem(name);
        if (nameProblem) throw badRequest(nameProblem);
        if (images.length === 0) throw badRequest('photos: add at least one photo (3–5 from slightly different angles work best)');
        const externalId = (fields.externalId ?? '').trim() || null;
        if (externalId && registry.byExternalId(externalId))
          throw new HttpError(409, 'duplicate_external_id', `externalId: "${externalId}" is already used by another person`);
        return enrolled(await enrollFromAdmin(admin, req, { name, externalId }, images, 'upload'));
      });
    },
  );

  app.post<{ Params: { id: string } }>(
    '/api/v1/people/:id/photos',
    {
      schema: {
        tags: ['people'],
        summary: 'Add photos (templates) to an existing person',
        consumes: ['multipart/form-data'],
        params: { type: 'object', properties: { id: { type: 'string', maxLength: 64 } } },
        response: { 400: errorSchema, 404: errorSchema, 409: errorSchema, 413: errorSchema, 422: errorSchema, 503: errorSchema },
      },
    },
    async (req) => {
      if (!registry.get(req.params.id)) throw notFound('person');
      return enrollments.run(async () => {
        const { images } = await readPhotos(req);
        if (images.length === 0) throw badRequest('photos: add at least one photo');
        return enrolled(await enrollFromAdmin(admin, req, { id: req.params.id }, images, 'upload'));
      });
    },
  );

  app.patch<{ Params: { id: string }; Body: Record<string, unknown> }>(
    '/api/v1/people/:id',
    {
      schema: {
        tags: ['people'],
        summary: 'Edit name, external id, validity, schedule, notes, or deactivate / reactivate',
        params: { type: 'object', properties: { id: { type: 'string', maxLength: 64 } } },
        body: { type: 'object' },
        response: { 200: personSchema, 400: errorSchema, 404: errorSchema, 409: errorSchema },
      },
    },
    async (req) => {
      const current = registry.get(req.params.id);
      if (!current) throw notFound('person');
      const parsed = patchSchema.safeParse(req.body);
      if (!parsed.success) throw badRequest(parsed.error.issues.map((i) => `${i.path.join('.') || 'body'}: ${i.message}`).join('; '));
      const patch = parsed.data;
      const from = patch.validFrom !== undefined ? patch.validFrom : current.validFrom;
      const until = patch.validUntil !== undefined ? patch.validUntil : current.validUntil;
      if (from && until && from > until) throw badRequest('validUntil: must be on or after validFrom');
      for (const w of patch.schedule ?? []) if (w.start >= w.end) throw badRequest(`schedule: a window must end after it starts (${w.start}–${w.end})`);
      if (patch.externalId) {
        const other = registry.byExternalId(patch.externalId);
        if (other && other.id !== current.id)
          throw new HttpError(409, 'duplicate_external_id', `externalId: "${patch.externalId}" is already used by ${other.name}`);
      }
      registry.update(current.id, patch, actorOf(req));
      return registry.row(current.id);
    },
  );

  app.delete<{ Params: { id: string } }>(
    '/api/v1/people/:id',
    {
      schema: {
        tags: ['people'],
        summary: 'Delete a person and erase all their face templates and thumbnails',
        params: { type: 'object', properties: { id: { type: 'string', maxLength: 64 } } },
        response: {
          200: {
            type: 'object',
            properties: {
              ok: { type: 'boolean' },
              templatesErased: { type: 'integer' },
              thumbnailsErased: { type: 'integer' },
              chipsErased: { type: 'integer' },
            },
          },
          404: errorSchema,
        },
      },
    },
    async (req) => {
      const erased = registry.remove(req.params.id, actorOf(req));
      if (!erased) throw notFound('person');
      return { ok: true, templatesErased: erased.templatesErased, thumbnailsErased: erased.thumbnailsErased, chipsErased: erased.chipsErased };
    },
  );
}
