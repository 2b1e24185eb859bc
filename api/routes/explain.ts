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

const productParams = z.object({ store_id: z.guid(), product_id: z.guid() });
const debtParams = z.object({ store_id: z.guid(), debt_id: z.guid() });

export const explainRoutes: FastifyPluginAsyncZod<{ config: Config; db: Db }> = async (
  app,
  { config, db },
) => {
  const explain = <P extends z.ZodObject, Q extends z.ZodObject, R extends z.ZodType>(
    summary: string,
    params: P,
    querystring: Q,
    response: R,
  ) => ({
    config: { auth: ['admin' as const] },
    schema: {
      tags: ['queries'],
      summary,
      description: WHY,
      security: [{ bearer: [] }],
      params,
      querystring,
      response: { 200: response, ...errorResponses },
    },
  });
  const storeOf = async (storeId: string) => (await requireStore(db, storeId.toLowerCase())).id;

  app.get(
    '/stores/:store_id/explain/stock/:product_id',
    explain(
      'Why a stock level is what it is: its movements',
      productParams,
      explainStockQuerySchema,
      stockExplanationSchema,
    ),
    async ({ params, query }) => {
      const storeId = await storeOf(params.store_id);
      const product_id = params.product_id.toLowerCase();
      const warehouse_id = query.warehouse_id?.toLowerCase() ?? storeId;
      return explainStock(db, config.NODE_ID, { store_id: storeId, warehouse_id, product_id }, query.limit);
    },
  );

  app.get(
    '/stores/:store_id/explain/debt/:debt_id',
    explain(
      'Why a debt has what remains: the debt and its payments',
      debtParams,
      z.object({}),
      debtExplanationSchema,
    ),
    async ({ params }) =>
      explainDebt(db, config.NODE_ID, await storeOf(params.store_id), params.debt_id.toLowerCase()),
  );

  app.get(
    '/stores/:store_id/explain/product/:product_id',
    explain(
      "Why a product's fields are what they are: each field's winning write and those that lost",
      productParams,
      z.object({}),
      productExplanationSchema,
    ),
    async ({ params }) =>
      explainProduct(db, config.NODE_ID, await storeOf(params.store_id), params.product_id.toLowerCase()),
  );
};
