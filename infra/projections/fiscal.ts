import { raiseAlert } from '../repositories/alerts';
import { homesOf, upsertSeries } from '../repositories/fiscal-series';
import { insertBlocks, overlappingBlocks } from '../repositories/fiscal-blocks';
import {
  activeRangesEndingAt,
  rangesWithLastNumberUsed,
  upsertRangeCloses,
  upsertRangeGrants,
} from '../repositories/fiscal-sequence-ranges';
import { clearOutOfRange, duplicatesAmong, insertUsedNumbers } from '../repositories/fiscal-numbers';
import {
  firstPerId,
  lockEntities,
  ofType,
  type ProjectionEvent,
  type ProjectionSink,
  type Trx,
} from './types';

/** Lock kind serialising everything about one (store, series): reservations, grants, number checks. */
export const FISCAL_LOCK = 'fiscal';

/**
 * The fiscal read models (docs/fiscal.md), convergent in any arrival order: series and range grants
 * resolve to the smallest event id, range ends to `exhausted` first, blocks and numbers are sets. The
 * numbers of SaleCreated events are checked here, inside the push transaction and for events from
 * peers too: out of the device's ranges is recorded, a number two sales hold raises FISCAL_DUPLICATE
 * (P0). The sale itself is never refused. Ranges whose last number was used are left in
 * `sink.fiscalExhausted` for the caller to tell their workflows after the commit.
 */
export async function projectFiscal(
  trx: Trx,
  events: ProjectionEvent[],
  sink: ProjectionSink,
): Promise<void> {
  const declared = firstPerId(ofType(events, 'FiscalSeriesDeclared'), (e) => e.payload.series_id);
  const blocks = ofType(events, 'FiscalBlockGranted');
  const grants = firstPerId(ofType(events, 'FiscalRangeGranted'), (e) => e.payload.range_id);
  const closes = bestCloses(ofType(events, 'FiscalRangeClosed'));
  const numbered = ofType(events, 'SaleCreated').filter(
    (e) => e.payload.invoice_series_id && e.payload.fiscal_number,
  );
  if (!declared.length && !blocks.length && !grants.length && !closes.length && !numbered.length) return;

  // One lock per (store, series), sorted: a sale's check and a range's grant never miss each other
  // under READ COMMITTED, and a reservation (which takes the same lock) sees every committed range.
  const series = new Set<string>();
  for (const e of declared) series.add(`${e.store_id}:${e.payload.series_id}`);
  for (const e of [...blocks, ...grants, ...closes]) series.add(`${e.store_id}:${e.payload.series_id}`);
  for (const e of numbered) series.add(`${e.store_id}:${e.payload.invoice_series_id!}`);
  await lockEntities(trx, FISCAL_LOCK, [...series].sort());

  await alertHomeConflicts(trx, ofType(events, 'FiscalSeriesDeclared'));
  await upsertSeries(
    trx,
    declared.map((e) => ({
      store_id: e.store_id,
      series_id: e.payload.series_id,
      prefix: e.payload.prefix,
      first_number: e.payload.first_number,
      last_number: e.payload.last_number,
      valid_until: e.payload.valid_until,
      home_node: e.payload.home_node,
      implicit: e.payload.implicit,
      declared_at: e.created_at.toISOString(),
      event_id: e.event_id,
    })),
  );
  await insertBlocks(
    trx,
    blocks.map((e) => ({
      store_id: e.store_id,
      block_id: e.payload.block_id,
      series_id: e.payload.series_id,
      node_id: e.payload.node_id,
      block_start: e.payload.block_start,
      block_end: e.payload.block_end,
      granted_by: e.payload.granted_by,
      granted_at: e.created_at.toISOString(),
      event_id: e.event_id,
    })),
  );
  for (const o of await overlappingBlocks(
    trx,
    blocks.map((e) => ({ store_id: e.store_id, ...e.payload })),
  )) {
    await raiseAlert(trx, {
      type: 'FISCAL_SERIES_CONFLICT',
      severity: 'P0',
      store_id: o.store_id,
      subject: `fiscal blocks of series ${o.series_id} overlap (nodes ${o.node_id} and ${o.other_node})`,
      payload: o,
      dedup_key: `FISCAL_SERIES_CONFLICT:${o.store_id}:${[o.block_id, o.other_id].sort().join(':')}`,
    });
  }
  await upsertRangeGrants(
    trx,
    grants.map((e) => ({
      store_id: e.store_id,
      range_id: e.payload.range_id,
      series_id: e.payload.series_id,
      device_id: e.payload.device_id,
      node_id: e.payload.node_id,
      block_id: e.payload.block_id,
      range_start: e.payload.range_start,
      range_end: e.payload.range_end,
      granted_at: e.created_at.toISOString(),
      expires_at: e.payload.expires_at,
      grant_event_id: e.event_id,
    })),
  );
  await upsertRangeCloses(
    trx,
    closes.map((e) => ({
      store_id: e.store_id,
      range_id: e.payload.range_id,
      series_id: e.payload.series_id,
      device_id: e.payload.device_id,
      status: e.payload.status,
      closed_at: e.created_at.toISOString(),
      close_event_id: e.event_id,
    })),
  );
  await clearOutOfRange(
    trx,
    grants.map((e) => ({
      store_id: e.store_id,
      series_id: e.payload.series_id,
      device_id: e.payload.device_id,
      range_start: e.payload.range_start,
      range_end: e.payload.range_end,
    })),
  );

  const used = await insertUsedNumbers(
    trx,
    numbered.map((e) => ({
      store_id: e.store_id,
      series_id: e.payload.invoice_series_id!,
      fiscal_number: e.payload.fiscal_number!,
      sale_id: e.payload.sale_id,
      event_id: e.event_id,
      device_id: e.device_id,
    })),
  );
  for (const d of await duplicatesAmong(trx, used)) {
    await raiseAlert(trx, {
      type: 'FISCAL_DUPLICATE',
      severity: 'P0',
      store_id: d.store_id,
      subject: `fiscal number ${d.fiscal_number} of series ${d.series_id} issued by ${d.sales.length} sales`,
      payload: { series_id: d.series_id, fiscal_number: d.fiscal_number, sales: d.sales },
      dedup_key: `FISCAL_DUPLICATE:${d.store_id}:${d.series_id}:${d.fiscal_number}`,
    });
  }

  // Ranges whose last number is now used: by a sale of this batch, or before the grant landed.
  const candidates = new Map<string, Set<string>>();
  const add = (store: string, range: string) => {
    const set = candidates.get(store) ?? new Set<string>();
    set.add(range);
    candidates.set(store, set);
  };
  for (const e of grants) add(e.store_id, e.payload.range_id);
  if (used.length > 0) {
    for (const id of await activeRangesEndingAt(trx, used)) add(id.store_id, id.range_id);
  }
  for (const [store, ids] of candidates) {
    for (const r of await rangesWithLastNumberUsed(trx, store, [...ids].sort())) {
      sink.fiscalExhausted.push({ store_id: store, range_id: r.range_id, node_id: r.node_id });
    }
  }
}

/**
 * Two declarations of one series naming different home nodes: two nodes may both grant its blocks,
 * which the no-overlap argument of docs/fiscal.md rules out. The projection still converges (the
 * smaller event id wins); a person is told at once (P0).
 */
async function alertHomeConflicts(
  trx: Trx,
  declared: ProjectionEvent<'FiscalSeriesDeclared'>[],
): Promise<void> {
  if (declared.length === 0) return;
  const homes = new Map<string, Set<string>>();
  for (const e of declared) {
    const key = `${e.store_id}:${e.payload.series_id}`;
    homes.set(key, (homes.get(key) ?? new Set()).add(e.payload.home_node));
  }
  const stored = await homesOf(
    trx,
    [...homes.keys()].map((k) => ({ store_id: k.slice(0, 36), series_id: k.slice(37) })),
  );
  for (const [key, set] of homes) {
    const have = stored.get(key);
    if (have) set.add(have);
    if (set.size < 2) continue;
    const [storeId, seriesId] = [key.slice(0, 36), key.slice(37)];
    await raiseAlert(trx, {
      type: 'FISCAL_SERIES_CONFLICT',
      severity: 'P0',
      store_id: storeId,
      subject: `series ${seriesId} is declared with two home nodes: ${[...set].sort().join(', ')}`,
      payload: { series_id: seriesId, home_nodes: [...set].sort() },
      dedup_key: `FISCAL_SERIES_CONFLICT:${storeId}:${seriesId}`,
    });
  }
}

/** Of several ends of one range in a batch, the one that wins (the same rule as upsertRangeCloses). */
function bestCloses(closes: ProjectionEvent<'FiscalRangeClosed'>[]): ProjectionEvent<'FiscalRangeClosed'>[] {
  const best = new Map<string, ProjectionEvent<'FiscalRangeClosed'>>();
  for (const e of closes) {
    const key = `${e.store_id}:${e.payload.range_id}`;
    const cur = best.get(key);
    const better =
      !cur ||
      (e.payload.status === 'exhausted' && cur.payload.status !== 'exhausted') ||
      (e.payload.status === cur.payload.status && e.event_id < cur.event_id);
    if (better) best.set(key, e);
  }
  return [...best.values()];
}
