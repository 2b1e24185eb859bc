import { createNodeApi, NodeApiError, type FetchLike, type NodeApi } from './node-api';
import { PosDatabase, saleWarehouse, type DeadLetter, type DeviceIdentity } from './db';
import { FiscalOfflineService } from './fiscal-offline';
import { ReconnectOrchestrator } from './reconnect-orchestrator';
import { SaleService } from './sales';
import { StockValidator } from './stock-validator';
import { SyncClient, type SyncClientOptions } from './sync-client';

export interface PosClientOptions {
  /** The node's origin; '' (default) for the page's own. */
  baseUrl?: string;
  /** The IndexedDB database name (one per till profile). */
  dbName?: string;
  fetch?: FetchLike;
  /** Replaces the HTTP API (another transport, or an adapter at merge time). */
  api?: (token: string) => NodeApi;
  sync?: Pick<SyncClientOptions, 'backoff' | 'batchSize' | 'idleMs' | 'now' | 'sleep'>;
  /** Fiscal numbers per reserved range. */
  fiscalRangeSize?: number;
  now?: () => number;
}

export interface Credentials {
  store_id: string;
  device_id: string;
  token: string;
  /** The invoice series this till numbers; none for a till that does not invoice. */
  series_id?: string | null;
  /** The warehouse the till sells from; the store's default warehouse (the store id) if none. */
  warehouse_id?: string | null;
}

/** The node refused the credentials. */
export class SignInError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'SignInError';
  }
}

/** The device is signed in as another device with unsent events: sending them as this one would misattribute them. */
export class DeviceMismatchError extends Error {
  constructor() {
    super(
      'This till holds unsent sales of another device; sync them before signing in as a different device',
    );
    this.name = 'DeviceMismatchError';
  }
}

/**
 * Everything a front end needs, wired: sign in, sell, watch the sync status, reconnect. One per
 * page; `start()` begins the background sync and listens to the browser's online/offline events.
 */
export class PosClient {
  readonly db: PosDatabase;
  readonly sync: SyncClient;
  readonly validator: StockValidator;
  readonly fiscal: FiscalOfflineService;
  readonly sales: SaleService;
  readonly orchestrator: ReconnectOrchestrator;
  private apiImpl: NodeApi | null = null;
  private readonly detach: (() => void)[] = [];

  constructor(private readonly opts: PosClientOptions = {}) {
    this.db = new PosDatabase(opts.dbName ?? 'velox-pos');
    const now = opts.now ?? Date.now;
    // The API is bound to the token, known only after sign-in: every call goes through this proxy.
    const api: NodeApi = {
      push: (...a) => this.api().push(...a),
      pull: (...a) => this.api().pull(...a),
      snapshot: (...a) => this.api().snapshot(...a),
      reserveFiscalRange: (...a) => this.api().reserveFiscalRange(...a),
      grantEscrow: (...a) => this.api().grantEscrow(...a),
    };
    this.sync = new SyncClient({ db: this.db, api, now, ...opts.sync });
    // One resolver for the sale, the validator and escrow (pwa/src/escrow.ts takes it from the identity).
    const warehouseId = async () => saleWarehouse(await this.sync.identity());
    const seriesId = () => this.setting('series_id');
    this.validator = new StockValidator(this.db, { warehouseId, now });
    this.fiscal = new FiscalOfflineService({
      db: this.db,
      api,
      identity: () => this.sync.identity(),
      rangeSize: opts.fiscalRangeSize,
      now,
    });
    this.sales = new SaleService({
      db: this.db,
      sync: this.sync,
      validator: this.validator,
      fiscal: this.fiscal,
      seriesId,
      warehouseId,
    });
    this.orchestrator = new ReconnectOrchestrator({
      db: this.db,
      sync: this.sync,
      fiscal: this.fiscal,
      escrowApi: api,
      seriesId,
      now,
    });
  }

  private api(): NodeApi {
    if (!this.apiImpl) throw new Error('sign in first');
    return this.apiImpl;
  }

  private async setting(name: 'series_id'): Promise<string | null> {
    return (await this.db.device.get('self'))?.[name] ?? null;
  }

  /** The stored identity, if this browser profile has signed in before (offline reloads rely on it). */
  async restore(): Promise<DeviceIdentity | null> {
    const me = await this.db.device.get('self');
    if (me) this.bind(me.token);
    return me ?? null;
  }

  /** Signs this till in as a device (the token from POST /stores/{id}/devices). Keeps clocks and queue for the same device. */
  async signIn(c: Credentials): Promise<DeviceIdentity> {
    const storeId = c.store_id.trim().toLowerCase();
    const deviceId = c.device_id.trim().toLowerCase();
    await this.checkToken(storeId, c.token.trim());
    const me = await this.db.transaction('rw', this.db.device, this.db.outbox, async () => {
      const old = await this.db.device.get('self');
      const same = old && old.store_id === storeId && old.device_id === deviceId;
      if (old && !same && (await this.db.outbox.where('status').equals('pending').count()) > 0) {
        throw new DeviceMismatchError();
      }
      const identity: DeviceIdentity = {
        key: 'self',
        store_id: storeId,
        device_id: deviceId,
        token: c.token.trim(),
        seq: same ? old.seq : 0,
        vector_clock: same ? old.vector_clock : {},
        last_time_ms: same ? old.last_time_ms : 0,
        series_id: c.series_id?.trim().toLowerCase() || null,
        warehouse_id: c.warehouse_id?.trim().toLowerCase() || null,
      };
      await this.db.device.put(identity);
      return identity;
    });
    this.bind(me.token);
    return me;
  }

  /**
   * A token the node refuses (401) or that belongs to another store (403) is not stored; without a
   * network the sign-in goes ahead (the first sync will tell).
   */
  private async checkToken(storeId: string, token: string): Promise<void> {
    const api =
      this.opts.api?.(token) ??
      createNodeApi({ baseUrl: this.opts.baseUrl ?? '', token, fetch: this.opts.fetch });
    try {
      await api.pull(storeId, 0, 1);
    } catch (err) {
      if (err instanceof NodeApiError && (err.status === 401 || err.status === 403 || err.status === 400)) {
        throw new SignInError(err.status === 401 ? 'The node does not know this token' : err.message);
      }
    }
  }

  private bind(token: string) {
    this.apiImpl =
      this.opts.api?.(token) ??
      createNodeApi({ baseUrl: this.opts.baseUrl ?? '', token, fetch: this.opts.fetch });
  }

  /** Background sync plus the browser's network events; a reconnect runs the orchestrator. */
  start(): void {
    const nav = (globalThis as { navigator?: { onLine?: boolean } }).navigator;
    this.sync.setOnline(nav?.onLine !== false);
    const target = globalThis as unknown as Partial<Pick<Window, 'addEventListener' | 'removeEventListener'>>;
    if (target.addEventListener && target.removeEventListener) {
      const online = () => {
        this.sync.setOnline(true);
        void this.orchestrator.reconnect();
      };
      const offline = () => this.sync.setOnline(false);
      target.addEventListener('online', online);
      target.addEventListener('offline', offline);
      this.detach.push(() => target.removeEventListener!('online', online));
      this.detach.push(() => target.removeEventListener!('offline', offline));
    }
    this.sync.start();
    if (this.sync.isOnline()) void this.orchestrator.reconnect();
  }

  async stop(): Promise<void> {
    for (const d of this.detach.splice(0)) d();
    await this.sync.stop();
  }

  deadLetters(): Promise<DeadLetter[]> {
    return this.db.dead_letters.orderBy('seq').toArray();
  }
}

export function createPosClient(opts: PosClientOptions = {}): PosClient {
  return new PosClient(opts);
}
