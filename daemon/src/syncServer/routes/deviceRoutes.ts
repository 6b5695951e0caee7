import type { FastifyInstance } from 'fastify';
import { deviceInfoSchema, registerRequestSchema, rotateRequestSchema, type DeviceInfo, type RegisterRequest } from '../../sync/protocol.js';
import { ID_PATTERN } from '../../sync/requestSigning.js';
import { verifyNewKeySignature } from '../auth.js';
import type { ServerContext } from '../context.js';
import type { Device } from '../devicesRepo.js';
import { conflict, forbidden, HttpError, notFound, unauthorized } from '../errors.js';

export const orgParams = { type: 'object', required: ['org'], properties: { org: { type: 'string', pattern: ID_PATTERN } } } as const;
const detail = { type: 'object', properties: { detail: {} } } as const;

const info = (d: Device): DeviceInfo => ({ org: d.org, device_id: d.id, name: d.name, status: d.status, created_at: d.createdAt, approved_at: d.approvedAt });

/** A unit registers its key (claim code → ACTIVE, else PENDING for the operator), asks its status, rotates its key. */
export function deviceRoutes(app: FastifyInstance, ctx: ServerContext): void {
  app.post(
    '/api/v2/register',
    {
      config: { auth: 'register' },
      schema: {
        tags: ['devices'],
        summary: 'Register this unit: signed by the key it registers; a claim code activates it at once, otherwise an operator approves it',
        body: registerRequestSchema,
        response: { 200: deviceInfoSchema, 201: deviceInfoSchema, 401: detail, 403: detail, 404: detail, 409: detail },
      },
    },
    async (req, reply) => {
      const b = req.body as RegisterRequest;
      if (!(await ctx.orgs.get(b.org))) throw notFound(`no organisation "${b.org}"`);
      const out = await ctx.devices.register(b.org, b.device_id, b.name, b.public_key, b.claim_code);
      if ('error' in out) {
        if (out.error === 'claim_invalid') throw forbidden('claim code unknown, used already, expired, or for another organisation');
        if (out.error === 'revoked') throw forbidden(`device ${b.org}/${b.device_id} was revoked: register it again with a new claim code`);
        if (out.error === 'too_many_pending')
          throw new HttpError(429, `too many devices of ${b.org} wait for approval: approve or revoke them, or register with a claim code`, {
            'retry-after': '3600',
          });
        throw conflict(`device ${b.org}/${b.device_id} is registered with another key: rotate the key with the old one, or have the operator revoke it`);
      }
      ctx.log.info({ org: b.org, device: b.device_id, status: out.status, claimed: Boolean(b.claim_code) }, 'device registered');
      const d = (await ctx.devices.get(b.org, b.device_id))!;
      return reply.code(out.created ? 201 : 200).send(info(d));
    },
  );

  app.get(
    '/api/v2/orgs/:org/device',
    {
      config: { auth: 'device-any' },
      schema: { tags: ['devices'], summary: "This device's registration and status", params: orgParams, response: { 200: deviceInfoSchema } },
    },
    async (req) => {
      const p = req.principal!;
      if (p.kind !== 'device') throw unauthorized('sign the request');
      return info((await ctx.devices.get(p.org, p.deviceId))!);
    },
  );

  app.post(
    '/api/v2/orgs/:org/device/rotate',
    {
      config: { auth: 'device' },
      schema: {
        tags: ['devices'],
        summary: "Replace this device's key: signed by the old key (Authorization) and the new one (X-Blink-New-Key-Signature, same canonical request)",
        params: orgParams,
        body: rotateRequestSchema,
        response: { 200: deviceInfoSchema },
      },
    },
    async (req) => {
      const p = req.principal!;
      if (p.kind !== 'device') throw unauthorized('sign the request');
      const { public_key } = req.body as { public_key: string };
      if (!verifyNewKeySignature(req, public_key)) throw new HttpError(401, 'the new key did not sign this request (X-Blink-New-Key-Signature)');
      if (!(await ctx.devices.rotateKey(p.org, p.deviceId, p.publicKey, public_key))) throw conflict('the key changed meanwhile: sign with the current key');
      ctx.log.info({ org: p.org, device: p.deviceId }, 'device key rotated');
      return info((await ctx.devices.get(p.org, p.deviceId))!);
    },
  );
}
