import type { FastifyPluginAsyncZod } from 'fastify-type-provider-zod';
import { z } from 'zod';
import {
  debtExplanationSchema,
  explainStockQuerySchema,
  productExplanationSchema,
  stockExplanationSchema,
} from '../../domain/wire/store-queries';
import type { Config } from '../../infra/config';
import type { Db } from '../../infra/db';
import { explainDebt, explainProduct, explainStock } from '../../infra/reads/explain';
import { requireStore } from '../../infra/repositories/stores';
import { errorResponses } from '../errors';

const WHY =
  'Each contribution names its event: type, device, origin node (where it entered the federation), ' +
  'how it reached this node, its ordering stamp (hlc) and device time (created_at).';

export const explainRoutes: FastifyPluginAsyncZod<{ config: Config; db: Db }> = async (
  app,
  { config, db },
) => {
  const explain = <P extends z.ZodObject>(summary: string, params: P) => ({
    config: { auth: ['admin' as const] },
    schema: { tags: ['queries'], summary, description: WHY, security: [{ bearer: [] }], params },
  });
  const storeOf = async (storeId: string) => (await requireStore(db, storeId.toLowerCase())).id;

  const stockOpts = explain(
    'Why a stock level is what it is: its movements',
    z.object({ store_id: z.guid(), product_id: z.guid() }),
  );
  app.get(
    '/stores/:store_id/explain/stock/:product_id',
    {
      ...stockOpts,
      schema: {
        ...stockOpts.schema,
        querystring: explainStockQuerySchema,
        response: { 200: stockExplanationSchema, ...errorResponses },
      },
    },
    async (request) => {
      const storeId = await storeOf(request.params.store_id);
      const warehouseId = request.query.warehouse_id?.toLowerCase() ?? storeId;
      const key = {
        store_id: storeId,
        warehouse_id: warehouseId,
        product_id: request.params.product_id.toLowerCase(),
      };
      return explainStock(db, config.NODE_ID, key, request.query.limit);
    },
  );

  const debtOpts = explain(
    'Why a debt has what remains: the debt and its payments',
    z.object({ store_id: z.guid(), debt_id: z.guid() }),
  );
  app.get(
    '/stores/:store_id/explain/debt/:debt_id',
    {
      ...debtOpts,
      schema: { ...debtOpts.schema, response: { 200: debtExplanationSchema, ...errorResponses } },
    },
    async (request) =>
      explainDebt(
        db,
        config.NODE_ID,
        await storeOf(request.params.store_id),
        request.params.debt_id.toLowerCase(),
      ),
  );

  const productOpts = explain(
    "Why a product's fields are what they are: each field's winning write and those that lost",
    z.object({ store_id: z.guid(), product_id: z.guid() }),
  );
  app.get(
    '/stores/:store_id/explain/product/:product_id',
    {
      ...productOpts,
      schema: { ...productOpts.schema, response: { 200: productExplanationSchema, ...errorResponses } },
    },
    async (request) =>
      explainProduct(
        db,
        config.NODE_ID,
        await storeOf(request.params.store_id),
        request.params.product_id.toLowerCase(),
      ),
  );
};
