import type { FastifyInstance } from 'fastify';
import type { MultipartFile } from '@fastify/multipart';
import { randomUUID } from 'node:crypto';
import type { AdminContext } from '../adminContext.js';
import type { EnrollImage, LiveFrame } from '../faceServices.js';
import { HttpError, badRequest, errorSchema } from '../httpErrors.js';
import { assertImage, enrollErrorToHttp, enrollFromAdmin, personSchema } from './peopleRoutes.js';

const NO_CAMERA = 'no live camera frames: the camera is not running or has sent nothing for 5 seconds';
const CAPTURE_TTL_MS = 10 * 60_000;
const MAX_CAPTURES = 20;

/** The frame's metadata as a header value: JSON with every non-ASCII character escaped (names like "李" are not valid in HTTP headers as is). */
function frameMeta(f: LiveFrame): string {
  return JSON.stringify({ seq: f.seq, capturedAt: f.capturedAt, width: f.width, height: f.height, analysed: f.analysed, faces: f.faces }).replace(
    /[\u007f-\uffff]/g,
    (c) => '\\u' + c.charCodeAt(0).toString(16).padStart(4, '0'),
  );
}

export function visionRoutes(app: FastifyInstance, admin: AdminContext): void {
  /** Camera snapshots taken for enrollment, held in memory only until used or expired. */
  const captures = new Map<string, { jpeg: Buffer; at: number; box: LiveFrame['faces'][number]['box'] }>();
  const prune = () => {
    const cut = Date.now() - CAPTURE_TTL_MS;
    for (const [k, v] of captures) if (v.at < cut) captures.delete(k);
  };

  let embedding = false;
  app.post(
    '/api/v1/embeddings',
    {
      schema: {
        tags: ['vision'],
        summary: 'Embed the face in an image (multipart field "image"): the original system\'s API',
        consumes: ['multipart/form-data'],
        response: {
          200: {
            type: 'object',
            properties: {
              embedding: { type: 'array', items: { type: 'number' } },
              dimension: { type: 'integer' },
              model: { type: 'string' },
              precision: { type: 'string' },
            },
          },
          400: errorSchema,
          413: errorSchema,
          422: errorSchema,
          503: errorSchema,
        },
      },
    },
    async (req, reply) => {
      if (!req.isMultipart()) throw badRequest('send the image as multipart/form-data (field "image")');
      // Decoding and inference are expensive: one embedding at a time, the rest are told to retry.
      if (embedding) {
        reply.header('retry-after', '1');
        throw new HttpError(429, 'busy', 'another embedding is being computed: try again in a moment');
      }
      embedding = true;
      try {
        const file = (await req.file()) as MultipartFile | undefined;
        if (!file) throw badRequest('image: no file in the request');
        const img: EnrollImage = { name: file.filename || 'image', data: await file.toBuffer() };
        await assertImage(img);
        let result: Awaited<ReturnType<typeof admin.faces.embed>>;
        try {
          result = await admin.faces.embed(img.data);
        } catch (err) {
          throw enrollErrorToHttp(err, [img]);
        }
        // A face template leaving the unit: who asked for it is recorded.
        admin.audit(req, 'vision.embedding', null, { image: img.name, dimension: result.dimension });
        return result;
      } finally {
        embedding = false;
      }
    },
  );

  app.get(
    '/api/v1/live/frame',
    {
      schema: {
        tags: ['vision'],
        summary: 'Newest camera frame (JPEG); faces, boxes and names in the X-Frame-Meta header (JSON)',
        response: { 503: errorSchema },
      },
    },
    async (_req, reply) => {
      const f = await admin.faces.liveFrame();
      if (!f) throw new HttpError(503, 'no_camera', NO_CAMERA);
      return reply.type('image/jpeg').header('cache-control', 'no-store').header('x-frame-meta', frameMeta(f)).send(f.jpeg);
    },
  );

  app.get(
    '/api/v1/live/assess',
    {
      schema: {
        tags: ['vision'],
        summary: 'Newest camera frame analysed now for enrollment feedback (faces, size, sharpness, pose; no names); same format as /live/frame',
        response: { 503: errorSchema },
      },
    },
    async (_req, reply) => {
      const f = await admin.faces.assessCamera().catch((err: unknown) => {
        throw enrollErrorToHttp(err);
      });
      if (!f) throw new HttpError(503, 'no_camera', NO_CAMERA);
      return reply.type('image/jpeg').header('cache-control', 'no-store').header('x-frame-meta', frameMeta(f)).send(f.jpeg);
    },
  );

  app.get(
    '/api/v1/live/stream',
    {
      schema: { tags: ['vision'], summary: 'MJPEG stream of the camera (multipart/x-mixed-replace), ~5 fps', response: { 503: errorSchema } },
    },
    async (req, reply) => {
      if (!(await admin.faces.liveFrame())) throw new HttpError(503, 'no_camera', NO_CAMERA);
      reply.hijack();
      const res = reply.raw;
      res.writeHead(200, { 'content-type': 'multipart/x-mixed-replace; boundary=blinkframe', 'cache-control': 'no-store', connection: 'close' });
      let last = -1;
      let busy = false;
      const timer = setInterval(async () => {
        if (busy) return;
        busy = true;
        const f = await admin.faces.liveFrame().catch(() => null);
        busy = false;
        if (!f || f.seq === last || res.destroyed) return;
        last = f.seq;
        res.write(`--blinkframe\r\ncontent-type: image/jpeg\r\ncontent-length: ${f.jpeg.length}\r\n\r\n`);
        res.write(f.jpeg);
        res.write('\r\n');
      }, 200);
      const end = () => clearInterval(timer);
      req.raw.on('close', end);
      res.on('error', end);
    },
  );

  app.post(
    '/api/v1/live/capture',
    {
      schema: {
        tags: ['vision'],
        summary: 'Take the current camera frame for enrollment: exactly one face of good quality, else 422 with what to fix',
        response: {
          200: { type: 'object', properties: { captureId: { type: 'string' }, quality: { type: 'object', additionalProperties: true } } },
          422: errorSchema,
          503: errorSchema,
        },
      },
    },
    async (req) => {
      prune();
      // Analyse the frame now (the admin's worker), so a capture works whether or not the door's frame loop publishes its results.
      const assessed = await admin.faces.assessCamera().catch((err: unknown) => {
        throw enrollErrorToHttp(err);
      });
      const live = assessed ? null : await admin.faces.liveFrame();
      const f = assessed ?? (live?.analysed ? live : null);
      if (!f) throw new HttpError(503, 'no_camera', NO_CAMERA);
      if (f.faces.length === 0) throw new HttpError(422, 'no_face', "no face in view: stand about an arm's length from the camera, facing it");
      if (f.faces.length > 1)
        throw new HttpError(422, 'multiple_faces', `${f.faces.length} faces in view: only the person being enrolled may be in front of the camera`);
      const face = f.faces[0]!;
      if (face.quality && face.quality.problems.length) throw new HttpError(422, 'poor_quality', face.quality.problems.join('; '), { quality: face.quality });
      if (captures.size >= MAX_CAPTURES) throw new HttpError(429, 'too_many', 'too many unused captures: enroll or wait a few minutes');
      const captureId = randomUUID();
      captures.set(captureId, { jpeg: f.jpeg, at: Date.now(), box: face.box });
      admin.audit(req, 'live.capture', `capture:${captureId}`);
      return { captureId, quality: face.quality ?? {} };
    },
  );

  app.get<{ Params: { id: string } }>(
    '/api/v1/live/capture/:id',
    {
      schema: {
        tags: ['vision'],
        summary: 'A capture (JPEG) for review before enrolling',
        params: { type: 'object', properties: { id: { type: 'string', format: 'uuid' } } },
      },
    },
    async (req, reply) => {
      const c = captures.get(req.params.id);
      if (!c) throw new HttpError(404, 'not_found', 'capture not found (they expire after 10 minutes)');
      return reply.type('image/jpeg').header('cache-control', 'no-store').send(c.jpeg);
    },
  );

  app.post<{ Body: { name: string; externalId?: string; captures: string[] } }>(
    '/api/v1/people/from-camera',
    {
      schema: {
        tags: ['people'],
        summary: 'Enroll a new person from camera captures (POST /live/capture first)',
        body: {
          type: 'object',
          required: ['name', 'captures'],
          additionalProperties: false,
          properties: {
            name: { type: 'string', minLength: 1, maxLength: 100 },
            externalId: { type: 'string', maxLength: 64 },
            captures: { type: 'array', minItems: 1, maxItems: 10, items: { type: 'string', format: 'uuid' } },
          },
        },
        response: {
          200: { type: 'object', properties: { person: personSchema, templates: { type: 'integer' } } },
          400: errorSchema,
          409: errorSchema,
          422: errorSchema,
          503: errorSchema,
        },
      },
    },
    async (req) => {
      prune();
      const images: EnrollImage[] = [];
      for (const id of req.body.captures) {
        const c = captures.get(id);
        if (!c) throw badRequest(`capture ${id} not found (they expire after 10 minutes): capture again`);
        images.push({ name: `capture ${images.length + 1}`, data: c.jpeg });
      }
      const externalId = req.body.externalId?.trim() || null;
      if (externalId && admin.registry.byExternalId(externalId))
        throw new HttpError(409, 'duplicate_external_id', `externalId: "${externalId}" is already used by another person`);
      const result = await enrollFromAdmin(admin, req, { name: req.body.name.trim(), externalId }, images, 'camera');
      for (const id of req.body.captures) captures.delete(id);
      return { person: admin.registry.row(result.person.id), templates: result.templates };
    },
  );
}
