import type { FastifyPluginAsyncZod } from 'fastify-type-provider-zod';
import { z } from 'zod';
import {
  getMapping,
  listMappings,
  seedMappings,
  updateMapping,
  upsertMapping,
  type ErpCodeMapping,
} from '../../../infra/repositories/erp-code-mappings';
import { chunk } from '../../../domain/chunk';
import {
  mappingBodySchema,
  mappingSeedBodySchema,
  mappingTypeSchema,
  mappingUpdateSchema,
  mappingViewSchema,
  pageMetaSchema,
  pageOf,
  pageQuerySchema,
  vendorIdSchema,
  type MappingView,
} from '../../../domain/erp/schemas';
import { ApiError, AppError } from '../../../domain/errors';
import { errorResponses } from '../../errors';
import { erpRouteConfigs, offsetOf, type ErpContext } from './context';

const tags = ['erp'];
const idParams = z.object({ id: z.guid() });

const view = (m: ErpCodeMapping): MappingView => ({
  id: m.id,
  vendorId: m.vendor_id,
  mappingType: m.mapping_type,
  erpCode: m.erp_code,
  restoCode: m.resto_code,
  restoLabel: m.resto_label,
  isActive: m.is_active,
  createdAt: m.created_at.toISOString(),
  updatedAt: m.updated_at.toISOString(),
});

/** REQ-4: admin CRUD of ERP code mappings; every write clears the resolution cache. */
export const erpMappingRoutes: FastifyPluginAsyncZod<ErpContext> = async (app, ctx) => {
  const { db, mappings } = ctx;
  const { admin } = erpRouteConfigs(ctx.config);
  const notFound = (id: string) => new AppError(404, ApiError.mappingNotFound, `no mapping ${id}`);

  app.get(
    '/api/admin/mappings',
    {
      config: admin,
      schema: {
        tags,
        summary: 'List mappings (filter by vendorId, type; inactive ones with includeInactive=true)',
        querystring: pageQuerySchema.extend({
          vendorId: vendorIdSchema.optional(),
          type: mappingTypeSchema.optional(),
          includeInactive: z.enum(['true', 'false']).optional(),
        }),
        response: {
          200: z.object({ data: z.array(mappingViewSchema), meta: pageMetaSchema }),
          ...errorResponses,
        },
      },
    },
    async (request) => {
      const q = request.query;
      const { rows, total } = await listMappings(
        db,
        { vendorId: q.vendorId, mappingType: q.type, includeInactive: q.includeInactive === 'true' },
        offsetOf(q),
      );
      return pageOf(rows.map(view), total, q);
    },
  );

  app.post(
    '/api/admin/mappings',
    {
      config: admin,
      schema: {
        tags,
        summary: 'Create a mapping (or overwrite and reactivate the one with the same vendor, type and code)',
        body: mappingBodySchema,
        response: { 201: mappingViewSchema, ...errorResponses },
      },
    },
    async (request, reply) => {
      const b = request.body;
      const m = await upsertMapping(db, {
        vendor_id: b.vendorId,
        mapping_type: b.mappingType,
        erp_code: b.erpCode,
        resto_code: b.restoCode,
        resto_label: b.restoLabel ?? null,
      });
      mappings.invalidate();
      return reply.status(201).send(view(m));
    },
  );

  app.put(
    '/api/admin/mappings/:id',
    {
      config: admin,
      schema: {
        tags,
        summary: 'Update a mapping',
        params: idParams,
        body: mappingUpdateSchema,
        response: { 200: mappingViewSchema, ...errorResponses },
      },
    },
    async (request) => {
      const b = request.body;
      const m = await updateMapping(db, request.params.id, {
        ...(b.restoCode !== undefined ? { resto_code: b.restoCode } : {}),
        ...(b.restoLabel !== undefined ? { resto_label: b.restoLabel } : {}),
        ...(b.isActive !== undefined ? { is_active: b.isActive } : {}),
      });
      if (!m) throw notFound(request.params.id);
      mappings.invalidate();
      return view(m);
    },
  );

  app.delete(
    '/api/admin/mappings/:id',
    {
      config: admin,
      schema: {
        tags,
        summary: 'Soft-delete a mapping (is_active = false)',
        params: idParams,
        response: { 200: mappingViewSchema, ...errorResponses },
      },
    },
    async (request) => {
      if (!(await getMapping(db, request.params.id))) throw notFound(request.params.id);
      const m = await updateMapping(db, request.params.id, { is_active: false });
      mappings.invalidate();
      return view(m!);
    },
  );

  app.post(
    '/api/admin/mappings/seed',
    {
      config: admin,
      schema: {
        tags,
        summary: 'Bulk seed mappings (upsert, up to 5,000)',
        body: mappingSeedBodySchema,
        response: { 200: z.object({ upserted: z.number().int() }), ...errorResponses },
      },
    },
    async (request) => {
      let upserted = 0;
      await db.transaction().execute(async (trx) => {
        for (const part of chunk(request.body.mappings, 500)) {
          upserted += await seedMappings(
            trx,
            part.map((b) => ({
              vendor_id: b.vendorId,
              mapping_type: b.mappingType,
              erp_code: b.erpCode,
              resto_code: b.restoCode,
              resto_label: b.restoLabel ?? null,
            })),
          );
        }
      });
      mappings.invalidate();
      return { upserted };
    },
  );
};
