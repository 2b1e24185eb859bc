import type { Client } from '@temporalio/client';
import type { FastifyPluginAsyncZod } from 'fastify-type-provider-zod';
import { z } from 'zod';
import type { Config } from '../../infra/config';
import type { Db } from '../../infra/db';
import { ENTITIES, sumResults } from '../../domain/reconcile/digest-walk';
import { reconcileResults, startReconciles } from '../../actors/reconcile';
import { errorResponseSchema, errorResponses } from '../errors';

export interface ReconcileRoutesOptions {
  config: Config;
  db: Db;
  temporal?: Client;
}

const count = z.number().int();
const entitySchema = z.object({
  remoteMissingCount: count.describe('events this node held and the peer lacked'),
  localMissingCount: count.describe('events the peer held and this node lacked'),
  replayedToRemote: count.describe('of remoteMissingCount: now held by the peer'),
  replayedToLocal: count.describe('of localMissingCount: now held here'),
});
const resultFields = {
  ...(Object.fromEntries(ENTITIES.map((e) => [e, entitySchema])) as Record<
    (typeof ENTITIES)[number],
    typeof entitySchema
  >),
  roundTrips: count.describe('HTTP requests to the peer(s)'),
  bytes: count.describe('request and response bodies exchanged with the peer(s)'),
  conflicts: z
    .array(z.string())
    .describe('event ids held by both sides with different payloads (never overwritten)'),
};
const resultSchema = z.object(resultFields);

export const reconcileRoutes: FastifyPluginAsyncZod<ReconcileRoutesOptions> = async (app, opts) => {
  const { config, db } = opts;

  app.post(
    '/sync/federation/auto-reconcile',
    {
      config: { auth: ['admin'] },
      schema: {
        tags: ['federation'],
        summary:
          "Reconcile a store's event log with its peers now (StoreReconcile), and return what was repaired",
        description:
          'Starts `reconcile:{node_id}:{store_id}:{peer_id}` for every configured peer (or just `peer_id`) and waits for ' +
          'the results: per entity, events missing on either side and replayed, plus the HTTP traffic it cost. ' +
          'While a reconcile of the same store and peer runs (started here or by the reconcile-sweep schedule) ' +
          'the answer is 409 LOCK_HELD. With `wait: false` the answer is 202 with the workflow ids.',
        security: [{ bearer: [] }],
        body: z.object({
          store_id: z.guid(),
          peer_id: z.string().min(1).optional(),
          chunk_size: z
            .number()
            .int()
            .min(1)
            .max(1000)
            .optional()
            .describe(`event ids per pull or push step (default ${config.RECONCILE_CHUNK_SIZE})`),
          wait: z.boolean().default(true),
        }),
        response: {
          200: resultSchema.extend({ store_id: z.string(), peers: z.record(z.string(), resultSchema) }),
          202: z.object({
            store_id: z.string(),
            workflows: z.array(
              z.object({ peer_id: z.string(), workflow_id: z.string(), run_id: z.string() }),
            ),
          }),
          ...errorResponses,
          409: errorResponseSchema,
          502: errorResponseSchema,
        },
      },
    },
    async (request, reply) => {
      const { peer_id, chunk_size, wait } = request.body;
      const storeId = request.body.store_id.toLowerCase();
      const started = await startReconciles(opts.temporal, db, config, {
        storeId,
        peerId: peer_id,
        chunkSize: chunk_size,
      });
      if (!wait) {
        return reply.status(202).send({
          store_id: storeId,
          workflows: started.map((s) => ({
            peer_id: s.peerId,
            workflow_id: s.handle.workflowId,
            run_id: s.handle.firstExecutionRunId,
          })),
        });
      }
      const results = await reconcileResults(storeId, started);
      return reply.status(200).send({
        store_id: storeId,
        ...sumResults([...results.values()]),
        peers: Object.fromEntries(results),
      });
    },
  );
};
