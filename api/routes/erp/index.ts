import { randomUUID } from 'node:crypto';
import type { FastifyPluginAsync } from 'fastify';
import { createMappingResolver } from '../../../infra/erp/mappings';
import { erpAgentRoutes } from './agents';
import type { ErpContext } from './context';
import { erpIngestRoutes } from './ingest';
import { erpMappingRoutes } from './mappings';
import { erpOperationsRoutes } from './operations';
import { erpStoreVendorRoutes } from './store-vendors';

declare module 'fastify' {
  interface FastifyRequest {
    /** The operation's X-Correlation-ID (given or made here), logged and passed to agent calls. */
    correlationId: string;
  }
}

const CORRELATION_ID = /^[A-Za-z0-9._:-]{1,100}$/;

/**
 * The ERP bridge (seed 004, docs/erp-bridge.md): its own routes under /api, with the seed's paths
 * and shapes. Encapsulated: the correlation-id hook applies to these routes only.
 */
export const erpRoutes: FastifyPluginAsync<Omit<ErpContext, 'mappings'>> = async (app, opts) => {
  const ctx: ErpContext = {
    ...opts,
    mappings: createMappingResolver(opts.db, {
      max: opts.config.ERP_MAPPING_CACHE_MAX,
      ttlMs: opts.config.ERP_MAPPING_CACHE_TTL_MS,
    }),
  };
  // OpenAPI: every ERP route takes a bearer token; admin routes also the seed's X-API-Key.
  app.addHook('onRoute', (route) => {
    const security: Record<string, string[]>[] = route.config?.apiKey
      ? [{ bearer: [] }, { apiKey: [] }]
      : [{ bearer: [] }];
    route.schema = { ...route.schema, security };
  });
  app.decorateRequest('correlationId', '');
  app.addHook('onRequest', async (request, reply) => {
    const given = request.headers['x-correlation-id'];
    request.correlationId = typeof given === 'string' && CORRELATION_ID.test(given) ? given : randomUUID();
    // Both handles: Fastify logs "request completed" through the reply's.
    request.log = request.log.child({ correlationId: request.correlationId });
    reply.log = request.log;
    reply.header('x-correlation-id', request.correlationId);
  });
  await app.register(erpAgentRoutes, ctx);
  await app.register(erpMappingRoutes, ctx);
  await app.register(erpIngestRoutes, ctx);
  await app.register(erpOperationsRoutes, ctx);
  await app.register(erpStoreVendorRoutes, ctx);
};
