import type { FastifyPluginAsyncZod } from 'fastify-type-provider-zod';
import { ingestRecords } from '../../../infra/erp/ingest';
import {
  ingestBodySchema,
  ingestResponseSchema,
  INGEST_KINDS,
  type IngestKind,
} from '../../../domain/erp/schemas';
import { ApiError, AppError } from '../../../domain/errors';
import { errorResponses } from '../../errors';
import { agentFor, erpRouteConfigs, type ErpContext } from './context';

/** REQ-5: the ERP → DB pipeline, incremental and batch, for items, stock and warehouses. */
export const erpIngestRoutes: FastifyPluginAsyncZod<ErpContext> = async (app, ctx) => {
  const { config, metrics } = ctx;
  const routes = erpRouteConfigs(config);
  const deps = { db: ctx.db, mappings: ctx.mappings, chunkSize: config.ERP_INGEST_CHUNK_SIZE };

  const variants = [
    {
      suffix: '',
      maxItems: config.ERP_INGEST_MAX_ITEMS,
      bodyLimit: config.ERP_INGEST_MAX_BYTES,
      cfg: routes.sync,
    },
    {
      suffix: '/batch',
      maxItems: config.ERP_BATCH_MAX_ITEMS,
      bodyLimit: config.ERP_BATCH_MAX_BYTES,
      cfg: routes.batch,
    },
  ];
  for (const kind of INGEST_KINDS) {
    for (const v of variants) {
      const url = `/api/sync/${kind}${v.suffix}`;
      app.post(
        url,
        {
          config: v.cfg,
          bodyLimit: v.bodyLimit,
          schema: {
            tags: ['erp'],
            summary:
              `Agent push of ${kind} (${v.suffix ? 'full push' : 'incremental'}; at most ${v.maxItems} records and ` +
              `${v.bodyLimit} bytes): validate, skip unchanged, reject stale, map, upsert; one result per record`,
            body: ingestBodySchema(kind),
            response: { 200: ingestResponseSchema, ...errorResponses },
          },
        },
        async (request) => {
          const body = request.body as { vendorId: string } & Record<IngestKind, unknown[]>;
          agentFor(request, body.vendorId);
          const records = body[kind];
          if (records.length > v.maxItems) {
            throw new AppError(
              413,
              ApiError.tooManyItems,
              `${records.length} ${kind} records exceed the limit of ${v.maxItems} per request on POST ${url}` +
                (v.suffix ? '; split the push' : `; split it, or use POST ${url}/batch for a full push`),
            );
          }
          const stop = metrics.erpIngestDuration.startTimer({ kind });
          const result = await ingestRecords(deps, kind, body.vendorId, records);
          stop();
          for (const s of ['processed', 'skipped', 'failed'] as const) {
            if (result[s] > 0) metrics.erpIngestRecords.inc({ kind, status: s }, result[s]);
          }
          request.log.info(
            {
              vendorId: body.vendorId,
              kind,
              processed: result.processed,
              skipped: result.skipped,
              failed: result.failed,
            },
            'erp ingest',
          );
          return result;
        },
      );
    }
  }
};
