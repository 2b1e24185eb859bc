import type { Config } from '../config';
import type { Db } from '../db';
import type { EventSource } from '../db/schema';
import type { Log } from '../log';
import type { Metrics } from '../metrics';
import { declareStore, requireStore } from '../repositories/stores';
import type { Principal } from '../../domain/auth/token-resolver';
import { admitEvents } from '../../domain/events/admit';
import type { EventLimits } from '../../domain/events/decode';
import type { PushResponse } from '../../domain/wire/peer-protocol';
import type { ExhaustedRange } from '../projections';
import { alertOversold } from '../projections/sale-intake';
import type { IngestQueue } from './coalescer';

export type PushConfig = Pick<
  Config,
  | 'NODE_ID'
  | 'HLC_MAX_SKEW_MS'
  | 'EVENT_MAX_BYTES'
  | 'EVENT_MAX_DEPTH'
  | 'EVENT_MAX_CLOCK_ENTRIES'
  | 'EVENT_MIN_CREATED_AT'
  | 'EVENT_MAX_CREATED_AT'
>;

export interface PushDeps {
  db: Db;
  config: PushConfig;
  metrics: Metrics;
  /** Where pushes go to the log (group commit: infra/eventlog/coalescer.ts). */
  ingest: IngestQueue;
  /** Called after a push commits new events (wakes the relay actors); must not throw. */
  onEventsCommitted?: (storeIds: string[]) => void;
  /** Called after a push commits sales that used a device range's last number; must not throw. */
  onFiscalExhausted?: (ranges: ExhaustedRange[]) => void;
}

export function eventLimits(config: PushConfig): EventLimits {
  return {
    maxBytes: config.EVENT_MAX_BYTES,
    maxDepth: config.EVENT_MAX_DEPTH,
    maxClockEntries: config.EVENT_MAX_CLOCK_ENTRIES,
    minCreatedAt: config.EVENT_MIN_CREATED_AT,
    maxCreatedAt: config.EVENT_MAX_CREATED_AT,
  };
}

function sourceOf(p: Principal): EventSource {
  return p.kind === 'peer' ? 'system-federation' : p.kind;
}

/**
 * One push, from an authorised caller: the store is declared (a peer serves the same stores) or
 * must exist (an admin), each event is admitted on its own (domain/events/admit.ts), the admitted
 * ones go to the log in one transaction (shared with the pushes that arrive meanwhile), and the answer lists each refused event at its position
 * in the request. Counted in the push metrics; wakes the relays when something new committed.
 */
export async function receivePush(
  deps: PushDeps,
  principal: Principal,
  envelope: { store_id: string; events: unknown[] },
  log: Log,
): Promise<PushResponse> {
  const { db, config, metrics } = deps;
  const started = process.hrtime.bigint();
  const storeId = envelope.store_id;
  if (principal.kind === 'peer') {
    await declareStore(db, { id: storeId, name: `store ${storeId}` });
  } else if (principal.kind === 'admin') {
    await requireStore(db, storeId);
  }
  const { events, positions, rejected } = admitEvents(
    envelope.events,
    principal,
    storeId,
    eventLimits(config),
  );

  const result = await deps.ingest.ingest(
    events,
    {
      nodeId: config.NODE_ID,
      source: sourceOf(principal),
      sourcePeer: principal.kind === 'peer' ? principal.peerId : null,
      maxSkewMs: config.HLC_MAX_SKEW_MS,
    },
    log,
  );
  for (const r of result.rejected) rejected.push({ ...r, index: positions[r.index]! });
  rejected.sort((a, b) => a.index - b.index);

  metrics.pushEvents.inc({ outcome: 'accepted' }, result.accepted.length);
  metrics.pushEvents.inc({ outcome: 'duplicate' }, result.duplicates.length);
  metrics.pushEvents.inc({ outcome: 'rejected' }, rejected.length);
  metrics.hashMismatches.inc(result.rejected.length);
  metrics.conflictsResolved.inc(result.conflictsAudited);
  for (const f of result.projectionFailures) {
    metrics.projectionFailures.inc({ type: f.type });
    log.warn({ event_id: f.event_id, type: f.type, error: f.error }, 'event stored, projection failed');
  }
  if (rejected.length > 0) {
    log.info(
      { rejected: rejected.slice(0, 10).map((r) => ({ index: r.index, code: r.code, message: r.message })) },
      'events rejected',
    );
  }
  if (result.stores.length > 0) deps.onEventsCommitted?.(result.stores);
  if (result.fiscalExhausted.length > 0) deps.onFiscalExhausted?.(result.fiscalExhausted);
  // After the commit, so the alert's per-key lock is never held with the log's append order.
  if (result.oversold.length > 0) await alertOversold(db, result.oversold, log);
  metrics.pushDuration.observe(Number(process.hrtime.bigint() - started) / 1e9);
  metrics.pushRequests.inc({ source: principal.kind, status: '200' });
  return {
    accepted: result.accepted,
    duplicates: result.duplicates,
    rejected,
    last_node_seq: result.lastNodeSeq,
  };
}
