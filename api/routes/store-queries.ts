import type { FastifyRequest } from 'fastify';
import type { FastifyPluginAsyncZod } from 'fastify-type-provider-zod';
import { z } from 'zod';
import {
  cashSessionSchema,
  cashSessionsQuerySchema,
  customerSchema,
  debtSchema,
  debtsQuerySchema,
  pageQuerySchema,
  pageSchema,
  productSchema,
  saleSchema,
  salesQuerySchema,
  snapshotSchema,
  stockSchema,
  storeParamsSchema,
} from '../../domain/wire/store-queries';
import type { Config } from '../../infra/config';
import type { Db } from '../../infra/db';
import { readSnapshot } from '../../infra/reads/snapshot';
import {
  cashSessionsPage,
  customersPage,
  debtsPage,
  productsPage,
  salesPage,
  stockPage,
} from '../../infra/reads/store-queries';
import { requireStore } from '../../infra/repositories/stores';
import { errorResponses } from '../errors';
import { assertStoreAccess, principalOf } from '../plugins/auth';

/**
 * A device reads its own store only: checked before the query is validated, so another store's
 * route answers 403 whatever its parameters. Admins get a 404 for a store this node does not hold.
 */
export async function ownStore(request: FastifyRequest): Promise<void> {
  const storeId = (request.params as { store_id?: unknown }).store_id;
  if (typeof storeId === 'string') assertStoreAccess(principalOf(request), storeId);
}

const storeOf = async (db: Db, params: { store_id: string }) =>
  (await requireStore(db, params.store_id.toLowerCase())).id;

const PAGE_NOTE = 'Cursor pagination by key: pass `next_cursor` as `cursor` until it is null.';

export const storeQueryRoutes: FastifyPluginAsyncZod<{ config: Config; db: Db }> = async (
  app,
  { config, db },
) => {
  const read = <Q extends z.ZodObject, I extends z.ZodType>(
    summary: string,
    querystring: Q,
    item: I,
    description = PAGE_NOTE,
  ) => ({
    config: { auth: ['device' as const, 'admin' as const] },
    preValidation: ownStore,
    schema: {
      tags: ['queries'],
      summary,
      description,
      security: [{ bearer: [] }],
      params: storeParamsSchema,
      querystring,
      response: { 200: pageSchema(item), ...errorResponses },
    },
  });

  app.get(
    '/stores/:store_id/products',
    read("The store's products", pageQuerySchema, productSchema),
    async (request) => productsPage(db, await storeOf(db, request.params), request.query),
  );

  app.get(
    '/stores/:store_id/stock',
    read('Stock per product and warehouse', pageQuerySchema, stockSchema),
    async (request) => stockPage(db, await storeOf(db, request.params), request.query),
  );

  app.get(
    '/stores/:store_id/customers',
    read("The store's customers", pageQuerySchema, customerSchema),
    async (request) => customersPage(db, await storeOf(db, request.params), request.query),
  );

  app.get(
    '/stores/:store_id/debts',
    read('Debts with remaining_amount and their payments', debtsQuerySchema, debtSchema),
    async (request) => debtsPage(db, await storeOf(db, request.params), request.query),
  );

  app.get(
    '/stores/:store_id/sales',
    read(
      'Sales of one day, with their lines and void state',
      salesQuerySchema,
      saleSchema,
      `${PAGE_NOTE} By sold_at, then id.`,
    ),
    async (request) => salesPage(db, await storeOf(db, request.params), request.query),
  );

  app.get(
    '/stores/:store_id/cash-sessions',
    read('Cash sessions with their ledger', cashSessionsQuerySchema, cashSessionSchema),
    async (request) => cashSessionsPage(db, await storeOf(db, request.params), request.query),
  );

  app.get(
    '/stores/:store_id/snapshot',
    {
      config: { auth: ['device', 'admin'] },
      preValidation: ownStore,
      schema: {
        tags: ['queries'],
        summary: 'Everything a device caches, with the feed position it corresponds to',
        description:
          'Products, stock, customers, unpaid debts and open cash sessions, read in one REPEATABLE READ ' +
          'transaction together with `position`, the store’s feed position in that same snapshot. Then follow ' +
          '`GET /sync/pull?store_id=…&since=<position>`: every later event arrives once, none is missed.',
        security: [{ bearer: [] }],
        params: storeParamsSchema,
        response: { 200: snapshotSchema, ...errorResponses },
      },
    },
    async (request) => readSnapshot(db, await storeOf(db, request.params), config.NODE_ID),
  );
};
