import { ApplicationFailure } from '@temporalio/activity';
import type { Logger } from 'pino';
import { z } from 'zod';
import type { Config } from '../infra/config';
import type { Db } from '../infra/db';
import { releaseGrant, type ReleaseOutcome } from '../infra/escrow/escrow';
import { OVERSELLING_DETECTED, oversellDedupKey } from '../infra/projections/sale-intake';
import { raiseAlert } from '../infra/repositories/alerts';
import { negativeStock } from '../infra/repositories/warehouse-stock';
import { describeIssues, Failure } from '../domain/errors';

// The escrow workflows' database work (docs/escrow.md): releasing a quota at expiry, and the
// oversell detector's pass over negative stock.

export const releaseInputSchema = z.object({ storeId: z.guid(), grantId: z.guid() });
export type ReleaseInput = z.infer<typeof releaseInputSchema>;
export type { ReleaseOutcome } from '../infra/escrow/escrow';

export interface OversellPassResult {
  negative: number;
  /** Alerts raised now; the others were repeats inside the hour, counted on the open alert. */
  raised: number;
}

export interface EscrowActivityDeps {
  db: Db;
  log: Logger;
  config: Pick<Config, 'NODE_ID'>;
}

export function createEscrowActivities({ db, log, config }: EscrowActivityDeps) {
  return {
    /** EscrowGrant at expiry: the quota's unconsumed rest back to this node's rights, once. */
    async releaseEscrowGrant(input: ReleaseInput): Promise<ReleaseOutcome> {
      const parsed = releaseInputSchema.safeParse(input);
      if (!parsed.success) {
        throw ApplicationFailure.create({
          type: Failure.invalidInput,
          nonRetryable: true,
          message: describeIssues(parsed.error.issues),
        });
      }
      const outcome = await releaseGrant(db, config.NODE_ID, parsed.data.storeId, parsed.data.grantId, log);
      log.info({ ...parsed.data, ...outcome }, 'escrow grant expired');
      return outcome;
    },

    /**
     * OversellDetector: every product below zero in a warehouse becomes an OVERSELLING_DETECTED
     * alert naming the product and the quantity, at most one per product and warehouse per hour
     * (the same key as the ingest check's, so either finds it once).
     */
    async detectOverselling(): Promise<OversellPassResult> {
      const rows = await negativeStock(db);
      let raised = 0;
      for (const r of rows) {
        const product = r.product_name ? `${r.product_name} (${r.product_id})` : r.product_id;
        const stock = Number(r.stock);
        log.warn({ ...r }, 'negative stock');
        const alert = await raiseAlert(db, {
          type: OVERSELLING_DETECTED,
          severity: 'P2',
          store_id: r.store_id,
          subject: `product ${product} is at ${stock} in warehouse ${r.warehouse_id}`,
          payload: {
            product_id: r.product_id,
            product_name: r.product_name,
            warehouse_id: r.warehouse_id,
            stock,
            detected_by: 'detector',
          },
          dedup_key: oversellDedupKey(r.store_id, r.warehouse_id, r.product_id),
        });
        if (alert.raised) raised += 1;
      }
      return { negative: rows.length, raised };
    },
  };
}
