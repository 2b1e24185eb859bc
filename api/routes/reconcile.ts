import { WorkflowExecutionAlreadyStartedError, type Client } from '@temporalio/client';
import { rootCause } from '@temporalio/common';
import type { FastifyPluginAsyncZod } from 'fastify-type-provider-zod';
import { z } from 'zod';
import type { Config } from '../../infra/config';
import type { Db } from '../../infra/db';
import { ENTITIES, sumResults, type ReconcileResult } from '../../domain/reconcile/digest-walk';
import { reconcileWorkflowId, startStoreReconcile } from '../../actors/reconcile';
import { findStore } from '../../infra/repositories/stores';
import { AppError, errorResponseSchema, errorResponses } from '../errors';

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
      if (!(await findStore(db, storeId))) {
        throw new AppError(404, 'STORE_NOT_FOUND', `store_id: no store ${storeId} on this node`);
      }
      const peers = config.PEERS.filter((p) => peer_id === undefined || p.id === peer_id);
      if (peer_id !== undefined && peers.length === 0) {
        throw new AppError(404, 'PEER_NOT_FOUND', `peer_id: no peer ${peer_id} in PEERS`);
      }
      if (peers.length === 0) {
        throw new AppError(
          409,
          'NO_PEERS',
          'this node has no peers configured (PEERS): there is nothing to reconcile with',
        );
      }
      if (!opts.temporal) {
        throw new AppError(503, 'TEMPORAL_UNAVAILABLE', 'this process has no Temporal client');
      }
      const client = opts.temporal;

      const started: { peerId: string; handle: Awaited<ReturnType<typeof startStoreReconcile>> }[] = [];
      const held: { peer_id: string; workflow_id: string }[] = [];
      for (const peer of peers) {
        try {
          const handle = await startStoreReconcile(client, config, {
            storeId,
            peerId: peer.id,
            trigger: 'api',
            chunkSize: chunk_size,
          });
          started.push({ peerId: peer.id, handle });
        } catch (err) {
          if (!(err instanceof WorkflowExecutionAlreadyStartedError)) throw err;
          held.push({ peer_id: peer.id, workflow_id: reconcileWorkflowId(config.NODE_ID, storeId, peer.id) });
        }
      }
      if (held.length > 0) {
        throw new AppError(
          409,
          'LOCK_HELD',
          `a reconcile of store ${storeId} with ${held.map((h) => h.peer_id).join(', ')} is already running ` +
            `(${held.map((h) => h.workflow_id).join(', ')}); wait for it or follow it in the Temporal UI`,
          {
            running: held,
            started: started.map((s) => ({ peer_id: s.peerId, workflow_id: s.handle.workflowId })),
          },
        );
      }
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

      const outcomes = await Promise.allSettled(started.map((s) => s.handle.result()));
      const failed = outcomes.flatMap((o, i) =>
        o.status === 'rejected'
          ? [
              {
                peer_id: started[i]!.peerId,
                workflow_id: started[i]!.handle.workflowId,
                error: causeOf(o.reason),
              },
            ]
          : [],
      );
      if (failed.length > 0) {
        throw new AppError(
          502,
          'RECONCILE_FAILED',
          `reconcile of store ${storeId} failed with ${failed.map((f) => `${f.peer_id}: ${f.error}`).join('; ')}`,
          { failed },
        );
      }
      const results = outcomes.map((o) => (o as PromiseFulfilledResult<ReconcileResult>).value);
      return reply.status(200).send({
        store_id: storeId,
        ...sumResults(results),
        peers: Object.fromEntries(started.map((s, i) => [s.peerId, results[i]!])),
      });
    },
  );
};

function causeOf(err: unknown): string {
  return rootCause(err) ?? (err instanceof Error ? err.message : String(err));
}
