import type { FastifyPluginAsyncZod } from 'fastify-type-provider-zod';
import { z } from 'zod';
import type { Db } from '../../infra/db';
import {
  listDevices,
  registerDevice,
  revokeDevice,
  rotateDeviceToken,
  type DeviceInfo,
} from '../../infra/repositories/devices';
import { declareStore, listStores, requireStore } from '../../infra/repositories/stores';
import { ApiError, AppError } from '../../domain/errors';
import { errorResponses } from '../errors';
import { storable } from '../text';

const storeSchema = z.object({ id: z.string(), name: z.string(), created_at: z.string() });

const deviceSchema = z
  .object({
    device_id: z.string(),
    store_id: z.string(),
    name: z.string(),
    created_at: z.string(),
    revoked_at: z.string().nullable().describe('null while the device may push'),
  })
  .describe('A registered device (its token is never shown again)');

const deviceTokenSchema = z.object({
  device_id: z.string(),
  store_id: z.string(),
  name: z.string(),
  token: z.string().describe('The bearer token of the device, shown only in this response'),
});

const deviceParams = z.object({ store_id: z.guid(), device_id: z.guid() });

function deviceOut(d: DeviceInfo): z.infer<typeof deviceSchema> {
  return {
    device_id: d.id,
    store_id: d.store_id,
    name: d.name,
    created_at: d.created_at.toISOString(),
    revoked_at: d.revoked_at?.toISOString() ?? null,
  };
}

const deviceNotFound = (storeId: string, deviceId: string) =>
  new AppError(404, ApiError.deviceNotFound, `device_id: store ${storeId} has no device ${deviceId}`);

export const storeRoutes: FastifyPluginAsyncZod<{ db: Db }> = async (app, { db }) => {
  app.post(
    '/stores',
    {
      config: { auth: ['admin'] },
      schema: {
        tags: ['stores'],
        summary: 'Declare a store (pass the same id on every node that serves it)',
        description: 'Idempotent: declaring an existing id returns it with 200; a new store is 201.',
        security: [{ bearer: [] }],
        body: z.object({ id: z.guid().optional(), name: storable(z.string().trim().min(1).max(200)) }),
        response: { 200: storeSchema, 201: storeSchema, ...errorResponses },
      },
    },
    async (request, reply) => {
      const { store, created } = await declareStore(db, {
        id: request.body.id?.toLowerCase(),
        name: request.body.name,
      });
      return reply.status(created ? 201 : 200).send({ ...store, created_at: store.created_at.toISOString() });
    },
  );

  app.get(
    '/stores',
    {
      config: { auth: ['admin'] },
      schema: {
        tags: ['stores'],
        summary: 'The stores this node holds, by name',
        security: [{ bearer: [] }],
        response: {
          200: z.object({ stores: z.array(z.object({ id: z.string(), name: z.string() })) }),
          ...errorResponses,
        },
      },
    },
    async () => ({ stores: await listStores(db) }),
  );

  app.post(
    '/stores/:store_id/devices',
    {
      config: { auth: ['admin'] },
      schema: {
        tags: ['stores'],
        summary: 'Register a device; the response carries its token, shown only this once',
        security: [{ bearer: [] }],
        params: z.object({ store_id: z.guid() }),
        body: z.object({
          name: storable(z.string().trim().min(1).max(200)),
          device_id: z.guid().optional(),
        }),
        response: { 201: deviceTokenSchema, ...errorResponses, 409: errorResponses[400] },
      },
    },
    async (request, reply) => {
      const storeId = request.params.store_id.toLowerCase();
      await requireStore(db, storeId);
      const deviceId = request.body.device_id?.toLowerCase();
      const registered = await registerDevice(db, { storeId, name: request.body.name, id: deviceId });
      if (!registered) {
        throw new AppError(409, ApiError.deviceExists, `device_id: device ${deviceId} is already registered`);
      }
      const { device, token } = registered;
      return reply
        .status(201)
        .send({ device_id: device.id, store_id: device.store_id, name: device.name, token });
    },
  );

  app.get(
    '/stores/:store_id/devices',
    {
      config: { auth: ['admin'] },
      schema: {
        tags: ['stores'],
        summary: "The store's devices, revoked ones included; never their tokens",
        security: [{ bearer: [] }],
        params: z.object({ store_id: z.guid() }),
        response: { 200: z.object({ devices: z.array(deviceSchema) }), ...errorResponses },
      },
    },
    async (request) => {
      const storeId = request.params.store_id.toLowerCase();
      await requireStore(db, storeId);
      return { devices: (await listDevices(db, storeId)).map(deviceOut) };
    },
  );

  app.post(
    '/stores/:store_id/devices/:device_id/revoke',
    {
      config: { auth: ['admin'] },
      schema: {
        tags: ['stores'],
        summary: 'Revoke a device: its token is refused (401) from now on',
        description:
          'Idempotent (revoking again keeps the first revoked_at). Immediate on the node that ' +
          'revoked; other API replicas of the same node refuse the token within AUTH_CACHE_TTL_MS.',
        security: [{ bearer: [] }],
        params: deviceParams,
        response: { 200: deviceSchema, ...errorResponses },
      },
    },
    async (request) => {
      const storeId = request.params.store_id.toLowerCase();
      const deviceId = request.params.device_id.toLowerCase();
      const device = await revokeDevice(db, storeId, deviceId);
      if (!device) throw deviceNotFound(storeId, deviceId);
      app.auth.forgetDevice(deviceId);
      return deviceOut(device);
    },
  );

  app.post(
    '/stores/:store_id/devices/:device_id/rotate-token',
    {
      config: { auth: ['admin'] },
      schema: {
        tags: ['stores'],
        summary: 'Give a device a new token (shown only this once); the old token is refused (401)',
        description:
          'Immediate on the node that rotated; other API replicas of the same node refuse the old ' +
          'token within AUTH_CACHE_TTL_MS. A revoked device cannot be given a token (409).',
        security: [{ bearer: [] }],
        params: deviceParams,
        response: { 200: deviceTokenSchema, ...errorResponses, 409: errorResponses[400] },
      },
    },
    async (request) => {
      const storeId = request.params.store_id.toLowerCase();
      const deviceId = request.params.device_id.toLowerCase();
      const result = await rotateDeviceToken(db, storeId, deviceId);
      if (result.status === 'not_found') throw deviceNotFound(storeId, deviceId);
      if (result.status === 'revoked') {
        throw new AppError(409, ApiError.deviceRevoked, `device_id: device ${deviceId} is revoked`);
      }
      app.auth.forgetDevice(deviceId);
      const { device, token } = result;
      return { device_id: device.id, store_id: device.store_id, name: device.name, token };
    },
  );
};
