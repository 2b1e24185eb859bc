import type { EventType } from '../../domain/events/schemas';
import { NetworkError, NodeApiError, type NodeApi, type PulledEvent } from './node-api';
import { backoffDelay, DEFAULT_BACKOFF, type BackoffOptions } from './backoff';
import { nextStamp, observe } from './clock';
import type { DeviceIdentity, OutgoingEvent, PosDatabase, QueuedEvent } from './db';
import { applyPulledEvent, applySnapshot } from './caches';
import { Subject, type Observable } from './observable';

export type SyncState = 'offline' | 'connecting' | 'online' | 'syncing' | 'error-will-retry';

export interface SyncStatus {
  state: SyncState;
  /** Events written on this device and not yet acknowledged by the node. */
  pending: number;
  /** Events the node refused, kept in the local dead-letter list. */
  dead: number;
  /** When the last full push and pull succeeded (ISO), or null. */
  last_synced_at: string | null;
  /** Why the last attempt failed, while retrying. */
  last_error: string | null;
  /** When the next retry is due (ISO), while retrying. */
  next_retry_at: string | null;
}

export interface SyncClientOptions {
  db: PosDatabase;
  api: NodeApi;
  backoff?: BackoffOptions;
  /** Events per push request (the node's PUSH_MAX_EVENTS is the ceiling). */
  batchSize?: number;
  /** How long the background loop rests after a good sync before pulling again. */
  idleMs?: number;
  now?: () => number;
  sleep?: (ms: number, signal: AbortSignal) => Promise<void>;
  uuid?: () => string;
}

export interface PushOutcome {
  accepted: number;
  duplicates: number;
  rejected: number;
}

const defaultSleep = (ms: number, signal: AbortSignal) =>
  new Promise<void>((resolve) => {
    const timer = setTimeout(resolve, ms);
    signal.addEventListener('abort', () => {
      clearTimeout(timer);
      resolve();
    });
  });

/** The device has no identity yet: sign in first. */
export class NotSignedInError extends Error {
  constructor() {
    super('this device is not signed in');
    this.name = 'NotSignedInError';
  }
}

/**
 * The device's side of sync: writes events into the local queue with their ids and clocks, pushes
 * the queue (in seq order, with exponential backoff and jitter between failed attempts), moves what
 * the node refuses to the dead-letter list, and pulls the store's feed by cursor into the caches.
 * A resend after a lost answer is harmless: the event keeps its id and body, and the node answers
 * `duplicates`, which counts as delivered.
 */
export class SyncClient {
  private readonly subject = new Subject<SyncStatus>({
    state: 'connecting',
    pending: 0,
    dead: 0,
    last_synced_at: null,
    last_error: null,
    next_retry_at: null,
  });
  readonly status: Observable<SyncStatus> = this.subject;
  private readonly backoff: BackoffOptions;
  private readonly batchSize: number;
  private readonly idleMs: number;
  private readonly now: () => number;
  private readonly sleep: (ms: number, signal: AbortSignal) => Promise<void>;
  private readonly uuid: () => string;
  private online = true;
  private failures = 0;
  private loop: Promise<void> | null = null;
  private stopper: AbortController | null = null;
  private wake: AbortController | null = null;
  private running: Promise<void> | null = null;

  constructor(private readonly opts: SyncClientOptions) {
    this.backoff = opts.backoff ?? DEFAULT_BACKOFF;
    this.batchSize = opts.batchSize ?? 200;
    this.idleMs = opts.idleMs ?? 15_000;
    this.now = opts.now ?? Date.now;
    this.sleep = opts.sleep ?? defaultSleep;
    this.uuid = opts.uuid ?? (() => globalThis.crypto.randomUUID());
  }

  /** One push and one pull at a time in this page (a second caller waits for the first to finish). */
  private readonly lanes = new Map<string, Promise<unknown>>();
  private serial<T>(lane: string, fn: () => Promise<T>): Promise<T> {
    const run = (this.lanes.get(lane) ?? Promise.resolve()).then(fn, fn);
    this.lanes.set(
      lane,
      run.catch(() => undefined),
    );
    return run;
  }

  private get db() {
    return this.opts.db;
  }

  async identity(): Promise<DeviceIdentity> {
    const me = await this.db.device.get('self');
    if (!me) throw new NotSignedInError();
    return me;
  }

  /**
   * Writes one event into the queue with the next seq, vector clock and hybrid time. Call it inside
   * a Dexie transaction over `device` and `outbox` (and whatever else the caller changes with it),
   * so the event and its effects on the caches commit together or not at all.
   */
  async append(type: EventType, payload: Record<string, unknown>): Promise<OutgoingEvent> {
    const me = await this.identity();
    const stamp = nextStamp(me, this.now());
    const event: OutgoingEvent = {
      event_id: this.uuid(),
      store_id: me.store_id,
      device_id: me.device_id,
      seq: stamp.seq,
      type,
      vector_clock: stamp.vector_clock,
      created_at: stamp.created_at,
      payload,
    };
    await this.db.device.put(stamp.identity);
    await this.db.outbox.add({
      seq: event.seq,
      event_id: event.event_id,
      type,
      event,
      status: 'pending',
      attempts: 0,
      synced_at: null,
    });
    return event;
  }

  /** Appends one event in a transaction of its own and nudges the background loop. */
  async record(type: EventType, payload: Record<string, unknown>): Promise<OutgoingEvent> {
    const event = await this.db.transaction('rw', this.db.device, this.db.outbox, () =>
      this.append(type, payload),
    );
    await this.refreshCounts();
    this.kick();
    return event;
  }

  async pendingEvents(): Promise<QueuedEvent[]> {
    return this.db.outbox.where('status').equals('pending').sortBy('seq');
  }

  /** Pushes every pending event, oldest first, one batch after another. Throws when the node cannot be reached. */
  push(): Promise<PushOutcome> {
    return this.serial('push', () => this.pushAll());
  }

  private async pushAll(): Promise<PushOutcome> {
    const me = await this.identity();
    const outcome: PushOutcome = { accepted: 0, duplicates: 0, rejected: 0 };
    let size = this.batchSize;
    for (;;) {
      const batch = (await this.pendingEvents()).slice(0, size);
      if (batch.length === 0) break;
      await this.db.outbox.bulkUpdate(
        batch.map((q) => ({ key: q.seq, changes: { attempts: q.attempts + 1 } })),
      );
      let result;
      try {
        result = await this.opts.api.push(
          me.store_id,
          me.device_id,
          batch.map((q) => q.event),
        );
      } catch (err) {
        // Too large for the node: split, the events themselves are fine.
        if (err instanceof NodeApiError && err.status === 413 && size > 1) {
          size = Math.max(1, Math.floor(size / 2));
          continue;
        }
        throw err;
      }
      const at = new Date(this.now()).toISOString();
      const delivered = new Set([...result.accepted, ...result.duplicates].map((id) => id.toLowerCase()));
      const rejected = new Map(result.rejected.map((r) => [r.index, r]));
      await this.db.transaction('rw', this.db.outbox, this.db.dead_letters, async () => {
        for (const [index, q] of batch.entries()) {
          const refusal = rejected.get(index);
          if (refusal) {
            // The node will never take this event as it is: park it for the operator and go on.
            await this.db.dead_letters.put({
              event_id: q.event_id,
              seq: q.seq,
              event: q.event,
              code: refusal.code,
              message: refusal.message,
              details: refusal.details ?? null,
              rejected_at: at,
            });
            await this.db.outbox.delete(q.seq);
          } else if (delivered.has(q.event_id.toLowerCase())) {
            await this.db.outbox.update(q.seq, { status: 'synced', synced_at: at });
          }
        }
      });
      outcome.accepted += result.accepted.length;
      outcome.duplicates += result.duplicates.length;
      outcome.rejected += result.rejected.length;
      await this.refreshCounts();
      // An event neither acknowledged nor refused would be sent forever in the same batch: stop.
      if (batch.every((q, i) => !rejected.has(i) && !delivered.has(q.event_id.toLowerCase()))) break;
    }
    return outcome;
  }

  /** Pulls the store's feed from the saved cursor to its end, applying each page to the caches. */
  /**
   * Pulls the feed to its end. `refresh` first replaces the caches with the node's snapshot (when it
   * serves one and nothing is waiting to be pushed), so stock that changed beyond the feed's reach —
   * escrow other devices took — is current before the till goes offline.
   */
  pull(opts: { refresh?: boolean } = {}): Promise<number> {
    return this.serial('pull', () => this.pullAll(opts.refresh ?? false));
  }

  private async pullAll(refresh: boolean): Promise<number> {
    const me = await this.identity();
    const idle = (await this.db.outbox.where('status').equals('pending').count()) === 0;
    await this.bootstrap(me, refresh && idle);
    let pulled = 0;
    for (;;) {
      const cursor = Number((await this.db.sync_state.get('cursor'))?.value ?? 0);
      const page = await this.opts.api.pull(me.store_id, cursor);
      if (!(await this.applyPage(cursor, page.events, page.next_since))) continue;
      pulled += page.events.length;
      if (!page.has_more || page.events.length === 0) break;
    }
    return pulled;
  }

  /** First contact: the snapshot, if the node serves one; else the caches are built from the feed from 0. */
  private async bootstrap(me: DeviceIdentity, refresh: boolean): Promise<void> {
    if (!refresh && (await this.db.sync_state.get('bootstrapped'))?.value) return;
    const snapshot = await this.opts.api.snapshot(me.store_id);
    await this.db.transaction(
      'rw',
      [
        this.db.products,
        this.db.warehouse_stock_cache,
        this.db.sales_stats,
        this.db.sync_state,
        this.db.outbox,
        this.db.device,
      ],
      async () => {
        if (snapshot) {
          await applySnapshot(this.db, snapshot, me);
          if (snapshot.vector_clock) {
            const current = (await this.db.device.get(me.key)) ?? me;
            await this.db.device.put(
              observe(current, {
                vector_clock: snapshot.vector_clock,
                created_at: snapshot.clock_time ?? '',
              }),
            );
          }
          await this.db.sync_state.put({ key: 'cursor', value: snapshot.position });
        }
        await this.db.sync_state.put({ key: 'bootstrapped', value: true });
      },
    );
  }

  /** Applies a page read from `from`; false (nothing applied) when another tab moved the cursor meanwhile. */
  private async applyPage(from: number, events: PulledEvent[], nextSince: number): Promise<boolean> {
    const db = this.db;
    return db.transaction(
      'rw',
      [db.products, db.warehouse_stock_cache, db.sales_stats, db.sync_state, db.device, db.outbox],
      async () => {
        if (Number((await db.sync_state.get('cursor'))?.value ?? 0) !== from) return false;
        let me = await this.identity();
        for (const e of events) {
          // Events this device wrote are already in the caches (optimistic local decrement).
          const own = (await db.outbox.where('event_id').equals(e.event_id.toLowerCase()).count()) > 0;
          await applyPulledEvent(db, e, { own, defaultWarehouse: me.store_id });
          me = observe(me, e);
        }
        await db.device.put(me);
        await db.sync_state.put({ key: 'cursor', value: nextSince });
        return true;
      },
    );
  }

  /** One full round: push everything, then pull to the end of the feed. */
  async syncOnce(): Promise<PushOutcome> {
    const outcome = await this.push();
    await this.pull();
    await this.db.sync_state.put({ key: 'last_synced_at', value: new Date(this.now()).toISOString() });
    return outcome;
  }

  /**
   * Runs `syncOnce` until it succeeds, waiting backoffDelay(n) after the n-th failure in a row, and
   * keeps the status observable current. Returns when a round succeeded (or the client stopped).
   */
  async syncUntilDone(signal?: AbortSignal): Promise<void> {
    if (this.running) return this.running;
    this.running = (async () => {
      try {
        for (;;) {
          if (signal?.aborted) return;
          if (!this.online) {
            await this.setState('offline');
            return;
          }
          if (this.failures > 0 || this.subject.get().state === 'offline') await this.setState('connecting');
          try {
            await this.setState('syncing');
            await this.syncOnce();
            this.failures = 0;
            await this.setState('online', { last_error: null, next_retry_at: null });
            return;
          } catch (err) {
            if (err instanceof NotSignedInError) throw err;
            this.failures += 1;
            const delay = backoffDelay(this.failures, this.backoff);
            await this.setState(this.online ? 'error-will-retry' : 'offline', {
              last_error: describe(err),
              next_retry_at: new Date(this.now() + delay).toISOString(),
            });
            this.wake = new AbortController();
            const both = signal ? anySignal([signal, this.wake.signal]) : this.wake.signal;
            await this.sleep(delay, both);
          }
        }
      } finally {
        this.running = null;
      }
    })();
    return this.running;
  }

  /** Starts the background loop: sync, rest `idleMs` (or until kicked), sync again. */
  start(): void {
    if (this.loop) return;
    const stopper = new AbortController();
    this.stopper = stopper;
    this.loop = (async () => {
      while (!stopper.signal.aborted) {
        try {
          await this.syncUntilDone(stopper.signal);
        } catch {
          // Not signed in: nothing to sync until someone signs in and kicks the loop.
        }
        if (stopper.signal.aborted) break;
        this.wake = new AbortController();
        await this.sleep(this.idleMs, anySignal([stopper.signal, this.wake.signal]));
      }
    })();
  }

  async stop(): Promise<void> {
    this.stopper?.abort();
    this.wake?.abort();
    await this.loop;
    this.loop = null;
  }

  /** Something changed (a new sale, the network came back): sync now instead of after the rest. */
  kick(): void {
    this.wake?.abort();
  }

  /** What the browser says about the network (navigator.onLine and its events). */
  setOnline(online: boolean): void {
    const was = this.online;
    this.online = online;
    // The state changes at once (the page shows it); the counts follow from IndexedDB.
    if (!online) this.subject.set({ ...this.subject.get(), state: 'offline' });
    else if (!was) {
      this.failures = 0;
      this.subject.set({ ...this.subject.get(), state: 'connecting' });
      this.kick();
    }
    void this.refreshCounts();
  }

  isOnline(): boolean {
    return this.online;
  }

  /** Re-reads the pending and dead-letter counts, keeping whatever state is current then. */
  async refreshCounts(): Promise<void> {
    await this.setState(undefined);
  }

  private async setState(state: SyncState | undefined, extra: Partial<SyncStatus> = {}): Promise<void> {
    const [pending, dead, last] = await Promise.all([
      this.db.outbox.where('status').equals('pending').count(),
      this.db.dead_letters.count(),
      this.db.sync_state.get('last_synced_at'),
    ]);
    this.subject.set({
      ...this.subject.get(),
      ...extra,
      state: state ?? this.subject.get().state,
      pending,
      dead,
      last_synced_at: typeof last?.value === 'string' ? last.value : null,
    });
  }
}

function describe(err: unknown): string {
  if (err instanceof NodeApiError) return `${err.status} ${err.code}: ${err.message}`;
  if (err instanceof NetworkError) return err.message;
  return err instanceof Error ? err.message : String(err);
}

function anySignal(signals: AbortSignal[]): AbortSignal {
  const controller = new AbortController();
  for (const s of signals) {
    if (s.aborted) controller.abort();
    else s.addEventListener('abort', () => controller.abort(), { once: true });
  }
  return controller.signal;
}
