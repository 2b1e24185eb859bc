import { sql } from 'kysely';
import { insertConsumptionsSql, type EscrowConsumptionRow } from '../repositories/escrow-consumptions';
import { insertQuotasSql, type EscrowQuotaRow } from '../repositories/escrow-quotas';
import { insertReleasesSql, type EscrowReleaseRow } from '../repositories/escrow-releases';
import { insertRightsMovesSql, type EscrowRightsMoveRow } from '../repositories/escrow-rights-moves';
import { ofType, type ProjectionEvent, type Trx } from './types';

/**
 * Escrow events (docs/escrow.md) into their four tables, in one statement. Each table is an
 * insert-only set keyed by the id its event carries: a consumption or a release that arrives before
 * its grant is kept and counts once the grant lands, and what a quota has left is computed from
 * the three, so the rows are a function of the set of events, whatever the arrival order.
 */
export async function projectEscrow(trx: Trx, events: ProjectionEvent[]): Promise<void> {
  const grants: EscrowQuotaRow[] = ofType(events, 'EscrowGranted').map((e) => ({
    store_id: e.store_id,
    grant_id: e.payload.grant_id,
    event_id: e.event_id,
    node_id: e.payload.node_id,
    device_id: e.payload.device_id,
    product_id: e.payload.product_id,
    qty_granted: e.payload.qty,
    granted_at: e.created_at.toISOString(),
    expires_at: e.payload.expires_at,
  }));
  const consumptions: EscrowConsumptionRow[] = ofType(events, 'EscrowConsumed').flatMap((e) =>
    e.payload.lines.map((l) => ({
      store_id: e.store_id,
      grant_id: l.grant_id,
      sale_event_id: e.payload.sale_event_id,
      line_no: l.line_no,
      event_id: e.event_id,
      product_id: l.product_id,
      qty: l.qty,
    })),
  );
  const releases: EscrowReleaseRow[] = ofType(events, 'EscrowReleased').map((e) => ({
    store_id: e.store_id,
    grant_id: e.payload.grant_id,
    event_id: e.event_id,
    product_id: e.payload.product_id,
    qty_released: e.payload.qty_released,
    released_at: e.created_at.toISOString(),
  }));
  const moves: EscrowRightsMoveRow[] = ofType(events, 'EscrowRightsMoved').map((e) => ({
    store_id: e.store_id,
    move_id: e.payload.move_id,
    event_id: e.event_id,
    product_id: e.payload.product_id,
    from_node: e.payload.from_node,
    to_node: e.payload.to_node,
    qty: e.payload.qty,
  }));
  if (grants.length + consumptions.length + releases.length + moves.length === 0) return;
  await sql`
    WITH g AS (${insertQuotasSql(grants)}),
    c AS (${insertConsumptionsSql(consumptions)}),
    r AS (${insertReleasesSql(releases)}),
    m AS (${insertRightsMovesSql(moves)})
    SELECT 1`.execute(trx);
}
