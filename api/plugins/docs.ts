import swagger from '@fastify/swagger';
import swaggerUi from '@fastify/swagger-ui';
import type { FastifyInstance } from 'fastify';
import fp from 'fastify-plugin';
import { jsonSchemaTransform } from 'fastify-type-provider-zod';

/** OpenAPI generated from the routes' zod schemas; the UI is at /docs, the document at /docs/json. */
export const docsPlugin = fp(async (app: FastifyInstance, opts: { nodeId: string }) => {
  await app.register(swagger, {
    openapi: {
      info: {
        title: 'Velox Federation Node',
        version: '0.1.0',
        description:
          `Sync and federation node for offline-first point of sale (node \`${opts.nodeId}\`). ` +
          'Every route except /healthz, /metrics and /docs needs `Authorization: Bearer <token>`: the admin ' +
          'secret, a peer token, or a device token from POST /stores/{store_id}/devices. Errors are ' +
          '`{"error":{"code","message","details"}}`.',
      },
      components: { securitySchemes: { bearer: { type: 'http', scheme: 'bearer' } } },
      tags: [
        { name: 'sync', description: 'Event push, change feed and conflict audit' },
        { name: 'stores', description: 'Stores and device registration (admin)' },
        {
          name: 'queries',
          description: "A store's read models, its snapshot, and why a number is what it is",
        },
        { name: 'federation', description: 'Relay to peers, anti-entropy reconcile, dead letters' },
        { name: 'operations', description: 'Liveness and metrics' },
      ],
    },
    // Each operation names the roles its route accepts (`x-auth`, from `config.auth`), so a client,
    // the fuzzer and the auth matrix read one source; the auth hook enforces the same list.
    transform: (args) => {
      const result = jsonSchemaTransform(args);
      const roles = args.route.config?.auth;
      return roles ? { ...result, schema: { ...result.schema, 'x-auth': roles } } : result;
    },
  });
  await app.register(swaggerUi, { routePrefix: '/docs', staticCSP: true });
});
