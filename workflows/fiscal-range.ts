import { condition, defineQuery, defineSignal, proxyActivities, setHandler } from '@temporalio/workflow';
import type { Activities } from '../activities';
import { databaseBatch } from './profiles';

// FiscalRange (docs/fiscal.md): one per device range, id fiscal-range:{rangeId}. It ends the range
// `exhausted` when ingest says a sale used the range's last number (a signal after the commit), or
// `expired` when its time is up (a durable timer: no cron, and the TTL is an input so tests use
// seconds). The end is a FiscalRangeClosed event, so every node learns it.

const { closeFiscalRange } = proxyActivities<Activities>(databaseBatch);

export interface FiscalRangeInput {
  storeId: string;
  seriesId: string;
  deviceId: string;
  rangeId: string;
  /** How long the range lives (FISCAL_RANGE_TTL_SECONDS: 24 h by default). */
  ttlSeconds: number;
}

export type FiscalRangeEnd = 'exhausted' | 'expired';

export interface FiscalRangeStatus {
  rangeId: string;
  state: 'active' | FiscalRangeEnd;
}

/** Ingest saw a sale use the range's last number. */
export const rangeExhaustedSignal = defineSignal('exhausted');
export const rangeStatusQuery = defineQuery<FiscalRangeStatus>('status');

/** The range's life as plain state: what ends it, and how (unit-testable without Temporal). */
export class FiscalRangeLife {
  private usedUp = false;
  private end: FiscalRangeEnd | null = null;

  exhaust(): void {
    this.usedUp = true;
  }

  get exhausted(): boolean {
    return this.usedUp;
  }

  /** Called once the wait is over: the last number used wins over the clock. */
  finish(): FiscalRangeEnd {
    this.end = this.usedUp ? 'exhausted' : 'expired';
    return this.end;
  }

  get state(): FiscalRangeStatus['state'] {
    return this.end ?? 'active';
  }
}

export async function fiscalRangeWorkflow(input: FiscalRangeInput): Promise<FiscalRangeEnd> {
  const life = new FiscalRangeLife();
  setHandler(rangeExhaustedSignal, () => life.exhaust());
  setHandler(rangeStatusQuery, () => ({ rangeId: input.rangeId, state: life.state }));
  await condition(() => life.exhausted, input.ttlSeconds * 1000);
  const end = life.finish();
  await closeFiscalRange({ storeId: input.storeId, rangeId: input.rangeId, status: end });
  return end;
}
