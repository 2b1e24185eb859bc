import type { FastifyPluginAsyncZod } from 'fastify-type-provider-zod';
import { z } from 'zod';
import type { Db } from '../../core/db';
import { declareStore, findStore, registerDevice } from '../../core/stores/repository';
import { AppError, errorResponses } from '../errors';
import { storable } from '../text';

const storeSchema = z.object({ id: z.string(), name: z.string(), created_at: z.string() });

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
        response: {
          201: z.object({ device_id: z.string(), store_id: z.string(), name: z.string(), token: z.string() }),
          ...errorResponses,
          409: errorResponses[400],
        },
      },
    },
    async (request, reply) => {
      const storeId = request.params.store_id.toLowerCase();
      if (!(await findStore(db, storeId))) {
        throw new AppError(404, 'STORE_NOT_FOUND', `store_id: no store ${storeId} on this node`);
      }
      const deviceId = request.body.device_id?.toLowerCase();
      if (
        deviceId &&
        (await db.selectFrom('devices').select('id').where('id', '=', deviceId).executeTakeFirst())
      ) {
        throw new AppError(409, 'DEVICE_EXISTS', `device_id: device ${deviceId} is already registered`);
      }
      const { device, token } = await registerDevice(db, { storeId, name: request.body.name, id: deviceId });
      return reply
        .status(201)
        .send({ device_id: device.id, store_id: device.store_id, name: device.name, token });
    },
  );
};
