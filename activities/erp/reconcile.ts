import { ApplicationFailure } from '@temporalio/activity';
import type { ActivityDeps } from '..';
import { callAgent, AgentCallError } from '../../infra/erp/agent-client';
import { raiseErpAlert } from '../../infra/erp/alerts';
import { throughBreaker } from '../../infra/erp/breaker';
import { itemRows, stockRow } from '../../infra/erp/ingest';
import { createMappingResolver } from '../../infra/erp/mappings';
import { activeVendorIds, findAgent } from '../../infra/repositories/erp-agents';
import { itemRangeSummary, itemsInRange, upsertItems } from '../../infra/repositories/erp-items';
import { insertReconciliationEvent } from '../../infra/repositories/erp-reconciliation-events';
import {
  deleteStockKeys,
  stockInRange,
  stockRangeSummary,
  upsertStock,
} from '../../infra/repositories/erp-stock';
import { UNRESOLVED_LIST_MAX, type KeyRange, type RangeComparison } from '../../domain/erp/bisection';
import { contentHash, stockKey } from '../../domain/erp/checksum';
import {
  checksumAnswerSchema,
  recordSchemas,
  recordsAnswerSchema,
  type ItemRecord,
  type ReconcileType,
  type StockRecord,
} from '../../domain/erp/schemas';
import type { ErpReconcileEventType } from '../../infra/db/erp-schema';
import { chunk } from '../../domain/chunk';
import { Failure } from '../../domain/errors';
import { agentFailure } from './failures';
import { erpRuntime } from './runtime';

export interface RangeInput {
  vendorId: string;
  type: ReconcileType;
  range: KeyRange;
  correlationId: string;
}

export interface RangeRepair {
  checked: number;
  missingHere: number;
  differing: number;
  extraHere: number;
  fixed: number;
  /** The first UNRESOLVED_LIST_MAX of them; `unresolvedCount` counts them all. */
  unresolved: { key: string; reason: string }[];
  unresolvedCount: number;
}

export interface ReconciliationRecord {
  vendorId: string;
  trigger: string;
  eventType: ErpReconcileEventType;
  summary: Record<string, unknown>;
  durationMs: number;
}

const WRITE_CHUNK = 500;

const rangeQuery = (type: ReconcileType, r: KeyRange): Record<string, string> => ({
  type,
  from: r.from,
  ...(r.to === null ? {} : { to: r.to }),
});

/** VendorReconcile's steps: a range's checksum on both sides, a leaf's record-by-record repair. */
export function createErpReconcileActivities(deps: ActivityDeps) {
  const { db } = deps;
  const rt = erpRuntime(deps);
  // Reconciliation resolves codes like ingest does, with a cache of its own (per worker).
  const mappings = createMappingResolver(db, {
    max: deps.config.ERP_MAPPING_CACHE_MAX,
    ttlMs: deps.config.ERP_MAPPING_CACHE_TTL_MS,
  });

  async function agentOf(vendorId: string) {
    const agent = await findAgent(db, vendorId);
    if (!agent || !agent.is_active) {
      throw ApplicationFailure.create({
        type: Failure.agentNotRegistered,
        message: `no active agent is registered for vendor ${vendorId}`,
        nonRetryable: true,
      });
    }
    return agent;
  }

  async function ask(input: RangeInput, path: string, query: Record<string, string>): Promise<unknown> {
    const agent = await agentOf(input.vendorId);
    const log = deps.log.child({ correlationId: input.correlationId, vendorId: input.vendorId });
    try {
      return await throughBreaker(rt.breaker(log), input.vendorId, input.type, () =>
        callAgent({
          baseUrl: agent.agent_url,
          method: 'GET',
          path,
          query,
          token: rt.callToken,
          correlationId: input.correlationId,
          timeoutMs: rt.agentTimeoutMs,
          log,
          metrics: rt.callMetrics(input.vendorId, input.type),
        }),
      );
    } catch (err) {
      throw agentFailure(err);
    }
  }

  return {
    async erpCompareRange(input: RangeInput): Promise<RangeComparison> {
      const local =
        input.type === 'items'
          ? await itemRangeSummary(db, input.vendorId, input.range)
          : await stockRangeSummary(db, input.vendorId, input.range);
      const answer = checksumAnswerSchema.safeParse(
        await ask(input, '/sync/checksum', rangeQuery(input.type, input.range)),
      );
      if (!answer.success)
        throw agentFailure(new AgentCallError('refused', '/sync/checksum: answer outside the contract'));
      const equal = answer.data.hash === local.hash && answer.data.count === local.count;
      rt.metrics.erpReconcileChecksumCalls.inc({
        vendor: input.vendorId,
        type: input.type,
        result: equal ? 'equal' : 'differing',
      });
      return {
        ...input.range,
        equal,
        localCount: local.count,
        erpCount: answer.data.count,
        splitKey: local.splitKey,
      };
    },

    /** Compares a small range record by record; the ERP's record wins wherever they differ. */
    async erpRepairRange(input: RangeInput): Promise<RangeRepair> {
      const answer = recordsAnswerSchema.safeParse(
        await ask(input, '/sync/records', rangeQuery(input.type, input.range)),
      );
      if (!answer.success)
        throw agentFailure(new AgentCallError('refused', '/sync/records: answer outside the contract'));
      const out: RangeRepair = {
        checked: 0,
        missingHere: 0,
        differing: 0,
        extraHere: 0,
        fixed: 0,
        unresolved: [],
        unresolvedCount: 0,
      };
      const unresolved = (key: string, reason: string) => {
        out.unresolvedCount += 1;
        if (out.unresolved.length < UNRESOLVED_LIST_MAX) out.unresolved.push({ key, reason });
      };
      const erp = new Map<string, { record: ItemRecord | StockRecord; hash: string }>();
      for (const raw of answer.data.records) {
        const parsed = recordSchemas[input.type].safeParse(raw);
        if (!parsed.success) {
          unresolved('?', 'INVALID_ERP_RECORD');
          continue;
        }
        const record = parsed.data as ItemRecord & StockRecord;
        erp.set(input.type === 'items' ? record.sku : stockKey(record.sku, record.warehouseId), {
          record,
          hash: contentHash(record),
        });
      }
      const localRows =
        input.type === 'items'
          ? (await itemsInRange(db, input.vendorId, input.range)).map((r) => ({
              key: r.sku,
              hash: r.content_hash,
            }))
          : (await stockInRange(db, input.vendorId, input.range)).map((r) => ({
              key: r.stock_key,
              hash: r.content_hash,
            }));
      const local = new Map(localRows.map((r) => [r.key, r.hash]));
      out.checked = new Set([...erp.keys(), ...local.keys()]).size;

      const toWrite: { index: number; key: string; record: ItemRecord | StockRecord; hash: string }[] = [];
      for (const [key, e] of erp) {
        const mine = local.get(key);
        if (mine === e.hash) continue;
        if (mine === undefined) out.missingHere += 1;
        else out.differing += 1;
        toWrite.push({ index: toWrite.length, key, ...e });
      }
      const extra = [...local.keys()].filter((k) => !erp.has(k));
      out.extraHere = extra.length;

      // A leaf the node knows little of may hold many of the ERP's records: written in chunks.
      if (input.type === 'stock') {
        for (const part of chunk(toWrite, WRITE_CHUNK)) {
          const rows = part.map((w) => stockRow(input.vendorId, w.record as StockRecord, w.hash));
          out.fixed += (await upsertStock(db, rows, true)).size;
        }
        // Physical stock: the ERP is the source of truth, so rows it does not have go too.
        out.fixed += await deleteStockKeys(db, input.vendorId, extra);
      } else {
        for (const part of chunk(toWrite, WRITE_CHUNK)) {
          const { rows, unmapped } = await itemRows(
            mappings,
            input.vendorId,
            part.map((w) => ({ index: w.index, record: w.record as ItemRecord, hash: w.hash })),
          );
          out.fixed += (await upsertItems(db, rows, true)).size;
          for (const u of unmapped) unresolved(toWrite[u.index]!.key, u.reason);
        }
        // A catalogue entry the ERP no longer lists is reported, not deleted (orders may name it).
        for (const k of extra) unresolved(k, 'NOT_IN_ERP');
      }
      const labels = { vendor: input.vendorId, type: input.type };
      rt.metrics.erpReconcileDrift.inc({ ...labels, kind: 'missing_here' }, out.missingHere);
      rt.metrics.erpReconcileDrift.inc({ ...labels, kind: 'differing' }, out.differing);
      rt.metrics.erpReconcileDrift.inc({ ...labels, kind: 'extra_here' }, out.extraHere);
      rt.metrics.erpReconcileDrift.inc({ ...labels, kind: 'unresolved' }, out.unresolvedCount);
      return out;
    },

    async erpRecordReconciliation(r: ReconciliationRecord): Promise<string> {
      const row = await insertReconciliationEvent(db, {
        vendor_id: r.vendorId,
        event_type: r.eventType,
        trigger: r.trigger,
        summary: r.summary,
        duration_ms: Math.max(0, Math.round(r.durationMs)),
      });
      rt.metrics.erpReconcileRuns.inc({ vendor: r.vendorId, result: r.eventType });
      rt.metrics.erpReconcileDuration.observe({ vendor: r.vendorId }, Math.max(0, r.durationMs) / 1000);
      if (r.eventType === 'drift_resolved' || r.eventType === 'drift_unresolved') {
        await raiseErpAlert(db, rt.alerts, {
          type: 'reconciliation_drift',
          severity: r.eventType === 'drift_unresolved' ? 'P2' : 'P3',
          subject: `vendor ${r.vendorId}: reconciliation found drift (${r.eventType})`,
          payload: { vendorId: r.vendorId, eventId: row.id, ...r.summary },
        });
      }
      return row.id;
    },

    erpActiveVendors(): Promise<string[]> {
      return activeVendorIds(db);
    },
  };
}
