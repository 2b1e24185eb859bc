import { ApplicationFailure } from '@temporalio/activity';
import type { Logger } from 'pino';
import { z } from 'zod';
import type { Config } from '../infra/config';
import type { Db } from '../infra/db';
import { describeIssues, Failure } from '../domain/errors';
import { endOverdueRanges } from '../infra/fiscal/ranges';
import {
  applyStock,
  fromRows,
  newSink,
  projectWithFallback,
  writeConflictAudit,
  type ExhaustedRange,
} from '../infra/projections';
import { claimUnprojected, recordProjectionOutcomes } from '../infra/repositories/events';

// The orphan healer (docs/runbook.md, "Projection gaps"): events that are in
// the log but whose projection failed, or never ran (an older node version left them 'pending'), are
// projected again.
// The log is the source of truth, so healing is just "project the event once more": projections are
// idempotent CRDTs, which is what makes a re-run (or a crash between runs) harmless.
// Each pass also ends the fiscal ranges this node granted that are past their time but still open
// (their FiscalRange workflow never ran): a safety net under the workflow's timer, not a reclaim cron.

export const orphanHealInputSchema = z.object({
  batchSize: z.number().int().positive().max(10_000),
  maxAgeDays: z.number().positive(),
  /** Heal one store only; every store when absent. */
  storeId: z.guid().optional(),
});
export type OrphanHealInput = z.infer<typeof orphanHealInputSchema>;

export interface OrphanHealDetail {
  event_id: string;
  type: string;
  status: 'healed' | 'failed';
  error?: string;
}

/** What one pass did; `details` names each event's outcome. */
export interface OrphanHealResult {
  checked: number;
  healed: number;
  failed: number;
  details: OrphanHealDetail[];
}

export interface OrphanHealerDeps {
  db: Db;
  log: Logger;
  config: Config;
  /** Tells the FiscalRange workflows of ranges a healed sale used up (as a push does). */
  onFiscalExhausted?: (ranges: ExhaustedRange[]) => void;
}

export function createOrphanHealerActivities({ db, log, config, onFiscalExhausted }: OrphanHealerDeps) {
  const healerLog = log.child({ component: 'orphan-healer' });
  return {
    async healOrphans(input: OrphanHealInput): Promise<OrphanHealResult> {
      const parsed = orphanHealInputSchema.safeParse(input);
      if (!parsed.success) {
        // Retrying the same input cannot help.
        throw ApplicationFailure.create({
          type: Failure.invalidInput,
          message: `healOrphans: ${describeIssues(parsed.error.issues)}`,
          nonRetryable: true,
        });
      }
      const result = await healOrphanBatch(db, healerLog, parsed.data, { onFiscalExhausted });
      // The heal has committed; a fiscal sweep that fails (a busy lock) must not fail the pass and
      // have it retried: the next pass ends those ranges.
      try {
        const ended = await endOverdueRanges(
          { db, config, log: healerLog },
          { storeId: parsed.data.storeId },
        );
        if (ended.length > 0) healerLog.info({ ranges: ended.length }, 'overdue fiscal ranges ended');
      } catch (err) {
        healerLog.warn({ err }, 'ending overdue fiscal ranges failed; the next pass tries again');
      }
      return result;
    },
  };
}

/**
 * One healing pass, in one transaction: claim up to batchSize unprojected events received in the
 * last maxAgeDays, project them (a savepoint per event if the batch fails), audit the conflicts they
 * resolve, and record each outcome on the event row. Rows another healer has claimed are skipped
 * (SKIP LOCKED), so concurrent runs never project the same event twice at once.
 */
export async function healOrphanBatch(
  db: Db,
  log: Logger,
  input: OrphanHealInput,
  hooks: { onFiscalExhausted?: (ranges: ExhaustedRange[]) => void } = {},
): Promise<OrphanHealResult> {
  let fiscalExhausted: ExhaustedRange[] = [];
  const result = await db.transaction().execute(async (trx) => {
    const rows = await claimUnprojected(trx, input);
    if (rows.length === 0) return { checked: 0, healed: 0, failed: 0, details: [] };

    const { events, invalid } = fromRows(rows);
    const sink = newSink();
    const projectionFailures = await projectWithFallback(trx, events, sink, log);
    await writeConflictAudit(trx, sink.conflicts, log);

    const errors = new Map([...invalid, ...projectionFailures].map((f) => [f.event_id, f.error]));
    const details: OrphanHealDetail[] = rows.map((r) => {
      const error = errors.get(r.event_id);
      return error === undefined
        ? { event_id: r.event_id, type: r.type, status: 'healed' }
        : { event_id: r.event_id, type: r.type, status: 'failed', error };
    });
    await recordProjectionOutcomes(
      trx,
      details.map((d) => ({ event_id: d.event_id, error: d.error ?? null })),
    );
    await applyStock(trx, sink); // last: the hot stock rows stay locked only until commit
    fiscalExhausted = sink.fiscalExhausted;
    return {
      checked: rows.length,
      healed: details.filter((d) => d.status === 'healed').length,
      failed: details.filter((d) => d.status === 'failed').length,
      details,
    };
  });

  // After the commit, as a push does: a healed sale that used a range's last number exhausts it.
  if (fiscalExhausted.length > 0) hooks.onFiscalExhausted?.(fiscalExhausted);
  // Logged after commit: a line saying "healed" is only written once it is true.
  for (const d of result.details) {
    if (d.status === 'healed')
      log.info({ event_id: d.event_id, type: d.type, result: 'healed' }, 'orphan event healed');
    else
      log.warn(
        { event_id: d.event_id, type: d.type, result: 'failed', error: d.error },
        'orphan event still failing',
      );
  }
  if (result.checked > 0) {
    log.info(
      {
        checked: result.checked,
        healed: result.healed,
        failed: result.failed,
        store_id: input.storeId ?? null,
      },
      'orphan healer pass finished',
    );
  }
  return result;
}
