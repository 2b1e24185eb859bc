import type { FastifyPluginAsyncZod } from 'fastify-type-provider-zod';
import { z } from 'zod';
import { audit } from '../../../infra/repositories/erp-audit-log';
import { findAgent } from '../../../infra/repositories/erp-agents';
import {
  deleteStoreVendor,
  listStoreVendors,
  upsertStoreVendor,
  type ErpStoreVendor,
} from '../../../infra/repositories/erp-store-vendors';
import { requireStore } from '../../../infra/repositories/stores';
import { pageMetaSchema, pageOf, pageQuerySchema, vendorIdSchema } from '../../../domain/erp/schemas';
import { idSchema } from '../../../domain/events/schemas';
import { ApiError, AppError } from '../../../domain/errors';
import { errorResponses } from '../../errors';
import { adminActor, erpRouteConfigs, offsetOf, type ErpContext } from './context';

const tags = ['erp'];
const storeParams = z.object({ storeId: idSchema });
const mappingSchema = z.object({
  storeId: z.string(),
  vendorId: z.string(),
  createdAt: z.string(),
  updatedAt: z.string(),
});
const view = (m: ErpStoreVendor): z.infer<typeof mappingSchema> => ({
  storeId: m.store_id,
  vendorId: m.vendor_id,
  createdAt: m.created_at.toISOString(),
  updatedAt: m.updated_at.toISOString(),
});

/**
 * Which ERP vendor a POS store's sales are ordered from (REQ-6's OrderCreated → createOrderJob): a
 * SaleCreated of a mapped store, received from the mapping's creation on, becomes one ERP order.
 */
export const erpStoreVendorRoutes: FastifyPluginAsyncZod<ErpContext> = async (app, ctx) => {
  const { db, config } = ctx;
  const { admin } = erpRouteConfigs(config);

  app.get(
    '/api/admin/store-vendors',
    {
      config: admin,
      schema: {
        tags,
        summary: 'Admin: stores whose sales become orders of an ERP vendor',
        querystring: pageQuerySchema.extend({ vendorId: vendorIdSchema.optional() }),
        response: {
          200: z.object({ data: z.array(mappingSchema), meta: pageMetaSchema }),
          ...errorResponses,
        },
      },
    },
    async (request) => {
      const q = request.query;
      const { rows, total } = await listStoreVendors(db, { vendorId: q.vendorId }, offsetOf(q));
      return pageOf(rows.map(view), total, q);
    },
  );

  app.put(
    '/api/admin/store-vendors/:storeId',
    {
      config: admin,
      schema: {
        tags,
        summary:
          "Admin: send a store's sales to an ERP vendor as orders (404 for an unknown store or vendor)",
        params: storeParams,
        body: z.strictObject({ vendorId: vendorIdSchema }),
        response: { 200: mappingSchema, ...errorResponses },
      },
    },
    async (request) => {
      const { storeId } = request.params;
      const { vendorId } = request.body;
      await requireStore(db, storeId);
      if (!(await findAgent(db, vendorId))) {
        throw new AppError(
          404,
          ApiError.agentNotFound,
          `vendorId: no agent is registered for vendor ${vendorId}`,
        );
      }
      const m = await db.transaction().execute(async (trx) => {
        const row = await upsertStoreVendor(trx, storeId, vendorId);
        await audit(trx, {
          actor: adminActor(request),
          action: 'store-vendor.set',
          target_type: 'store',
          target_id: storeId,
          details: { vendorId },
        });
        return row;
      });
      ctx.onStoreVendorsChanged?.();
      return view(m);
    },
  );

  app.delete(
    '/api/admin/store-vendors/:storeId',
    {
      config: admin,
      schema: {
        tags,
        summary: "Admin: stop sending a store's sales to its ERP vendor (answers the mapping as it was)",
        params: storeParams,
        response: { 200: mappingSchema, ...errorResponses },
      },
    },
    async (request) => {
      const { storeId } = request.params;
      const removed = await db.transaction().execute(async (trx) => {
        const row = await deleteStoreVendor(trx, storeId);
        if (!row) {
          throw new AppError(
            404,
            ApiError.storeVendorNotFound,
            `store ${storeId} is mapped to no ERP vendor`,
          );
        }
        await audit(trx, {
          actor: adminActor(request),
          action: 'store-vendor.delete',
          target_type: 'store',
          target_id: storeId,
          details: { vendorId: row.vendor_id },
        });
        return row;
      });
      ctx.onStoreVendorsChanged?.();
      return view(removed);
    },
  );
};
