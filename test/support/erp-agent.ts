import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { contentHash, inRange, rangeChecksum, stockKey } from '../../domain/erp/checksum';
import type { ItemRecord, StockRecord } from '../../domain/erp/schemas';

// A fake ERP agent: a real local HTTP server speaking the agent contract (docs/erp-bridge.md):
// POST /sync/create-order (deduplicated by Idempotency-Key), GET /sync/checksum and GET
// /sync/records over its own items and stock. Tests set its mode and read what it saw.

export interface SeenRequest {
  method: string;
  path: string;
  query: Record<string, string>;
  headers: Record<string, string | string[] | undefined>;
  body: unknown;
}

export type OrderMode = 'complete' | 'accept' | 'down' | 'refuse' | 'hang';

export class FakeErpAgent {
  readonly requests: SeenRequest[] = [];
  readonly items = new Map<string, ItemRecord>();
  readonly stock = new Map<string, StockRecord>();
  /** Orders the ERP created, by idempotency key (what "the agent sees the order once" counts). */
  readonly orders = new Map<string, { erpReference: string; body: unknown }>();
  orderMode: OrderMode = 'complete';
  /** Delay before answering a checksum (keeps a reconcile running while a test triggers another). */
  checksumDelayMs = 0;
  /** Called once a create-order request has arrived (before the answer), e.g. to kill a worker. */
  onCreateOrder?: (req: SeenRequest) => void | Promise<void>;
  private server: Server | null = null;
  url = '';

  async start(): Promise<this> {
    this.server = createServer((req, res) => void this.handle(req, res));
    await new Promise<void>((resolve) => this.server!.listen(0, '127.0.0.1', resolve));
    this.url = `http://127.0.0.1:${(this.server.address() as AddressInfo).port}`;
    return this;
  }

  async stop(): Promise<void> {
    this.server?.closeAllConnections();
    await new Promise<void>((resolve) => this.server?.close(() => resolve()) ?? resolve());
  }

  calls(path: string): SeenRequest[] {
    return this.requests.filter((r) => r.path === path);
  }

  setItems(records: ItemRecord[]) {
    for (const r of records) this.items.set(r.sku, r);
  }

  setStock(records: StockRecord[]) {
    for (const r of records) this.stock.set(stockKey(r.sku, r.warehouseId), r);
  }

  private async handle(req: IncomingMessage, res: ServerResponse) {
    const url = new URL(req.url ?? '/', 'http://agent');
    const chunks: Buffer[] = [];
    for await (const c of req) chunks.push(c as Buffer);
    const text = Buffer.concat(chunks).toString('utf8');
    const seen: SeenRequest = {
      method: req.method ?? 'GET',
      path: url.pathname,
      query: Object.fromEntries(url.searchParams),
      headers: req.headers,
      body: text ? (JSON.parse(text) as unknown) : undefined,
    };
    this.requests.push(seen);
    const send = (status: number, body: unknown) => {
      res.writeHead(status, { 'content-type': 'application/json' });
      res.end(JSON.stringify(body));
    };

    if (seen.path === '/sync/create-order' && seen.method === 'POST') {
      await this.onCreateOrder?.(seen);
      if (this.orderMode === 'down') return send(503, { error: 'erp unavailable' });
      if (this.orderMode === 'refuse') return send(422, { error: 'order refused' });
      if (this.orderMode === 'hang') return; // never answers
      const key = String(seen.headers['idempotency-key']);
      let order = this.orders.get(key);
      if (!order) {
        order = { erpReference: `ERP-${this.orders.size + 1}`, body: seen.body };
        this.orders.set(key, order);
      }
      return this.orderMode === 'accept'
        ? send(202, { accepted: true })
        : send(200, { status: 'completed', erpReference: order.erpReference });
    }
    if (seen.path === '/sync/checksum' || seen.path === '/sync/records') {
      const range = { from: seen.query.from ?? '', to: seen.query.to ?? null };
      const source: Map<string, ItemRecord | StockRecord> =
        seen.query.type === 'stock' ? this.stock : this.items;
      const records = [...source.entries()].filter(([k]) => inRange(k, range));
      if (seen.path === '/sync/records') return send(200, { records: records.map(([, r]) => r) });
      if (this.checksumDelayMs > 0) await new Promise((r) => setTimeout(r, this.checksumDelayMs));
      return send(200, rangeChecksum(records.map(([key, r]) => ({ key, hash: contentHash(r) }))));
    }
    send(404, { error: 'not found' });
  }
}

/** A catalogue item with mapped codes (unit KG → kilogram, vat V21 → vat-21 in mapping seeds). */
export function item(sku: string, overrides: Partial<ItemRecord> = {}): ItemRecord {
  return {
    sku,
    name: `Item ${sku}`,
    unit: 'KG',
    vat: 'V21',
    family: 'FRUIT',
    price: 1.5,
    updatedAt: '2026-11-01T10:00:00.000Z',
    ...overrides,
  };
}

export function stockOf(
  sku: string,
  warehouseId: string,
  quantity: number,
  overrides: Partial<StockRecord> = {},
): StockRecord {
  return { sku, warehouseId, quantity, updatedAt: '2026-11-01T10:00:00.000Z', ...overrides };
}

export const BASE_MAPPINGS = (vendorId: string) => [
  { vendorId, mappingType: 'unit' as const, erpCode: 'KG', restoCode: 'kilogram', restoLabel: 'Kilogramme' },
  { vendorId, mappingType: 'unit' as const, erpCode: 'PC', restoCode: 'piece', restoLabel: 'Pièce' },
  { vendorId, mappingType: 'vat' as const, erpCode: 'V21', restoCode: 'vat-21', restoLabel: '21 %' },
  { vendorId, mappingType: 'family' as const, erpCode: 'FRUIT', restoCode: 'fruit', restoLabel: 'Fruit' },
];
