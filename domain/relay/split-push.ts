/**
 * Finding the events a peer will never take, without mistaking a peer outage for bad events.
 *
 * Pure: the HTTP call, the error classification and the pause are passed in, so the decisions are
 * unit-tested without a peer. A batch the peer fails on is split in halves until the culprits stand
 * alone:
 *
 * - `refused` (a 4xx: the request as it is will never be accepted): a lone event refused is final.
 * - `failing` (a 500): may be the event, may be the peer. A lone event that fails is only a suspect.
 *   Suspects are judged after every batch was tried: if the peer took another push in the same step
 *   (a witness that it is up), each suspect is tried alone again a few times, and one that still
 *   fails is final. If nothing went through, the peer is failing, not the events: the first error is
 *   thrown and nothing is set aside.
 * - `transient` (unreachable, timeout, 429, 502–504, auth being rotated): thrown at once; the caller
 *   retries the whole step later and the peer dedupes what already arrived.
 *
 * A peer that fails every request costs a bounded number of requests before that verdict (about
 * twice the depth of the split), not one per event: while no push has gone through, a failing batch
 * past that allowance is parked instead of split, and parked batches are only split once a witness
 * appears.
 */
export type FailureKind = 'refused' | 'failing' | 'transient';

export interface SplitPushOptions<T> {
  /** Sends one batch; resolves when the peer took it, throws otherwise. */
  send(batch: T[]): Promise<void>;
  classify(err: unknown): FailureKind;
  /** Further tries of a lone failing event once the peer is known to be up. */
  retries: number;
  /** Waits before retry round `round` (1-based). */
  pause(round: number): Promise<void>;
}

export interface Refusal<T> {
  item: T;
  error: unknown;
}

export async function pushSplitting<T>(batches: T[][], o: SplitPushOptions<T>): Promise<Refusal<T>[]> {
  const refused: Refusal<T>[] = [];
  let suspects: Refusal<T>[] = [];
  const parked: T[][] = [];
  let witnessed = false;
  let firstFailure: unknown = null;
  let unwitnessedFailures = 0;
  const largest = Math.max(1, ...batches.map((b) => b.length));
  const allowance = 2 * Math.ceil(Math.log2(largest)) + 3;

  async function attempt(batch: T[]): Promise<void> {
    if (batch.length === 0) return;
    let kind: FailureKind;
    let error: unknown;
    try {
      await o.send(batch);
      witnessed = true;
      return;
    } catch (err) {
      kind = o.classify(err);
      error = err;
    }
    if (kind === 'transient') throw error;
    if (kind === 'failing' && !witnessed) {
      firstFailure ??= error;
      unwitnessedFailures += 1;
    }
    if (batch.length === 1) {
      (kind === 'refused' ? refused : suspects).push({ item: batch[0]!, error });
      return;
    }
    if (kind === 'failing' && !witnessed && unwitnessedFailures >= allowance) {
      parked.push(batch);
      return;
    }
    const half = Math.ceil(batch.length / 2);
    await attempt(batch.slice(0, half));
    await attempt(batch.slice(half));
  }

  for (const batch of batches) await attempt(batch);
  if (!witnessed && (suspects.length > 0 || parked.length > 0)) throw firstFailure;
  while (parked.length > 0) await attempt(parked.shift()!);

  for (let round = 1; round <= o.retries && suspects.length > 0; round++) {
    await o.pause(round);
    const still: Refusal<T>[] = [];
    for (const s of suspects) {
      try {
        await o.send([s.item]);
      } catch (err) {
        const kind = o.classify(err);
        if (kind === 'transient') throw err;
        if (kind === 'refused') refused.push({ item: s.item, error: err });
        else still.push({ item: s.item, error: err });
      }
    }
    suspects = still;
  }
  return [...refused, ...suspects];
}
