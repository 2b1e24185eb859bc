import type { Db } from '../db';
import type { Log } from '../log';
import { ingestPushes, type IngestOptions, type IngestResult, type PushInput } from './ingest';

export interface IngestQueueOptions {
  /** Transactions under way at once (one commits while the next projects). */
  lanes: number;
  /** Events gathered into one transaction at most (a push is never split). */
  maxEvents: number;
}

export interface IngestQueue {
  ingest(events: PushInput['events'], opts: IngestOptions, log: Log): Promise<IngestResult>;
  /** Pushes and transactions so far (metrics and tests). */
  stats(): { pushes: number; transactions: number };
}

interface Waiting extends PushInput {
  log: Log;
  resolve(r: IngestResult): void;
  reject(err: unknown): void;
}

/**
 * Group commit for pushes. A till pushes one sale per request, and fifty tills push at once: alone,
 * each push pays for its own transaction (half a dozen statements and a commit, with the feed lock
 * held to the commit), and the CPU of the statements, not the rows, is the limit. The queue runs a
 * push at once when a lane is free; pushes that arrive while every lane is busy wait and go together
 * in the next transaction, with one set of statements and one commit for all of them and a result of
 * their own each (ingestPushes). So an idle node adds no delay, and a busy one batches itself.
 *
 * Nothing here decides correctness: a push gets the answer it would get alone. If a shared
 * transaction fails for a reason other than a projection (those are isolated per event inside it),
 * each of its pushes is retried on its own, so one bad push never fails the others.
 */
export function createIngestQueue(db: Db, opts: IngestQueueOptions): IngestQueue {
  const waiting: Waiting[] = [];
  let active = 0;
  let pushes = 0;
  let transactions = 0;

  function take(): Waiting[] {
    const batch: Waiting[] = [];
    let events = 0;
    while (waiting.length > 0) {
      const next = waiting[0]!;
      if (batch.length > 0 && events + next.events.length > opts.maxEvents) break;
      batch.push(waiting.shift()!);
      events += next.events.length;
    }
    return batch;
  }

  async function run(batch: Waiting[]): Promise<void> {
    transactions += 1;
    try {
      const results = await ingestPushes(db, batch, batch[0]!.log);
      batch.forEach((w, i) => w.resolve(results[i]!));
    } catch (err) {
      if (batch.length === 1) return batch[0]!.reject(err);
      batch[0]!.log.warn(
        { err, pushes: batch.length },
        'shared ingest transaction failed; pushing one by one',
      );
      for (const w of batch) {
        transactions += 1;
        await ingestPushes(db, [w], w.log).then(
          (r) => w.resolve(r[0]!),
          (e: unknown) => w.reject(e),
        );
      }
    }
  }

  async function lane(): Promise<void> {
    try {
      for (let batch = take(); batch.length > 0; batch = take()) await run(batch);
    } finally {
      active -= 1;
    }
  }

  return {
    ingest(events, ingestOpts, log) {
      pushes += 1;
      return new Promise<IngestResult>((resolve, reject) => {
        waiting.push({ events, opts: ingestOpts, log, resolve, reject });
        if (active < opts.lanes) {
          active += 1;
          // After the current tick: a burst of pushes that arrive together starts as one transaction.
          queueMicrotask(() => void lane());
        }
      });
    },
    stats: () => ({ pushes, transactions }),
  };
}
