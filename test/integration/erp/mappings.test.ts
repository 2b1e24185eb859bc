import { createDb, type Db } from '../../../infra/db';
import { createMappingResolver } from '../../../infra/erp/mappings';
import {
  listMappings,
  seedMappings,
  updateMapping,
  upsertMapping,
} from '../../../infra/repositories/erp-code-mappings';
import { countTableReads } from '../../support/db';
import { apiKey, createErpTestApp, newVendor, type ErpTestApp } from '../../support/erp';

// REQ-4: admin CRUD with soft delete and bulk seed, and resolution through the LRU cache that every
// write clears, in this process and in every other (the API's own resolver is exercised by the
// ingest tests).

/** Counts the SELECTs on erp_code_mappings that a database handle really ran. */
function mappingReads(db: Db) {
  const { counter, wrap } = countTableReads('erp_code_mappings');
  return { counter, db: wrap(db) };
}

let app: ErpTestApp;
beforeAll(async () => {
  app = await createErpTestApp();
});
afterAll(() => app.close());

const create = (payload: Record<string, unknown>) =>
  app.inject({ method: 'POST', url: '/api/admin/mappings', headers: apiKey, payload });

test('create, list filtered by vendor and type, update, soft delete', async () => {
  const vendorId = newVendor();
  const kg = await create({
    vendorId,
    mappingType: 'unit',
    erpCode: 'KG',
    restoCode: 'kilogram',
    restoLabel: 'Kilogramme',
  });
  expect(kg.statusCode).toBe(201);
  await create({ vendorId, mappingType: 'vat', erpCode: 'V21', restoCode: 'vat-21' });
  const id = kg.json<{ id: string }>().id;

  const units = await app.inject({
    method: 'GET',
    url: `/api/admin/mappings?vendorId=${vendorId}&type=unit`,
    headers: apiKey,
  });
  expect(units.json()).toMatchObject({
    data: [{ erpCode: 'KG', restoCode: 'kilogram' }],
    meta: { total: 1, page: 1, limit: 50, totalPages: 1 },
  });

  const put = await app.inject({
    method: 'PUT',
    url: `/api/admin/mappings/${id}`,
    headers: apiKey,
    payload: { restoCode: 'kg' },
  });
  expect(put.json()).toMatchObject({ restoCode: 'kg', isActive: true });

  const del = await app.inject({ method: 'DELETE', url: `/api/admin/mappings/${id}`, headers: apiKey });
  expect(del.statusCode).toBe(200);
  expect(del.json()).toMatchObject({ isActive: false });
  const active = await app.inject({
    method: 'GET',
    url: `/api/admin/mappings?vendorId=${vendorId}`,
    headers: apiKey,
  });
  expect(active.json<{ data: { erpCode: string }[] }>().data.map((m) => m.erpCode)).toEqual(['V21']);
  const all = await app.inject({
    method: 'GET',
    url: `/api/admin/mappings?vendorId=${vendorId}&includeInactive=true`,
    headers: apiKey,
  });
  expect(all.json<{ meta: { total: number } }>().meta.total).toBe(2);

  expect(
    (
      await app.inject({
        method: 'DELETE',
        url: `/api/admin/mappings/${'0'.repeat(8)}-0000-4000-8000-${'0'.repeat(12)}`,
        headers: apiKey,
      })
    ).statusCode,
  ).toBe(404);
});

test('bulk seed upserts: a second seed overwrites and reactivates', async () => {
  const vendorId = newVendor();
  const seed = (restoCode: string) =>
    app.inject({
      method: 'POST',
      url: '/api/admin/mappings/seed',
      headers: apiKey,
      payload: {
        mappings: Array.from({ length: 300 }, (_, i) => ({
          vendorId,
          mappingType: 'family',
          erpCode: `F${i}`,
          restoCode: `${restoCode}-${i}`,
        })),
      },
    });
  expect((await seed('a')).json()).toEqual({ upserted: 300 });
  expect((await seed('b')).json()).toEqual({ upserted: 300 });
  const list = await app.inject({
    method: 'GET',
    url: `/api/admin/mappings?vendorId=${vendorId}&limit=100&page=3`,
    headers: apiKey,
  });
  const body = list.json<{ data: { restoCode: string }[]; meta: { total: number; totalPages: number } }>();
  expect(body.meta).toMatchObject({ total: 300, totalPages: 3 });
  expect(body.data.every((m) => m.restoCode.startsWith('b-'))).toBe(true);
});

test('resolve: a miss reads the database once and is cached; a write, even behind the API, is seen at once', async () => {
  const vendorId = newVendor();
  await create({ vendorId, mappingType: 'unit', erpCode: 'PC', restoCode: 'piece', restoLabel: 'Pièce' });
  const counted = mappingReads(app.t.db);
  const resolver = createMappingResolver(counted.db, { max: 10_000, ttlMs: 5 * 60_000 });

  expect(await resolver.resolve(vendorId, 'unit', 'PC')).toEqual({ restoCode: 'piece', restoLabel: 'Pièce' });
  expect(await resolver.resolve(vendorId, 'unit', 'BOX')).toBeNull();
  expect(resolver.size).toBe(2);
  expect(counted.counter.reads).toBe(2);
  // Hits, "not mapped" included, read no mapping.
  expect(await resolver.resolve(vendorId, 'unit', 'PC')).toMatchObject({ restoCode: 'piece' });
  expect(await resolver.resolve(vendorId, 'unit', 'BOX')).toBeNull();
  expect(counted.counter.reads).toBe(2);

  // An operator's own SQL bumps the mapping version too (a trigger): the next resolution sees it.
  await app.t.db
    .updateTable('erp_code_mappings')
    .set({ resto_code: 'unit' })
    .where('vendor_id', '=', vendorId)
    .execute();
  expect(await resolver.resolve(vendorId, 'unit', 'PC')).toEqual({ restoCode: 'unit', restoLabel: 'Pièce' });
  expect(counted.counter.reads).toBe(3);
  resolver.invalidate();
  expect(resolver.size).toBe(0);
  expect(await resolver.resolve(vendorId, 'unit', 'PC')).toEqual({ restoCode: 'unit', restoLabel: 'Pièce' });
  expect(counted.counter.reads).toBe(4);
});

test('resolve: entries expire after the TTL and the cache holds at most max entries (LRU)', async () => {
  const vendorId = newVendor();
  await create({ vendorId, mappingType: 'vat', erpCode: 'V5', restoCode: 'vat-5' });
  const counted = mappingReads(app.t.db);
  const resolver = createMappingResolver(counted.db, { max: 3, ttlMs: 200 });
  expect(await resolver.resolve(vendorId, 'vat', 'V5')).toMatchObject({ restoCode: 'vat-5' });
  expect(await resolver.resolve(vendorId, 'vat', 'V5')).toMatchObject({ restoCode: 'vat-5' });
  expect(counted.counter.reads).toBe(1);
  await new Promise((r) => setTimeout(r, 300));
  // No write in between: the entry expired by itself.
  expect(await resolver.resolve(vendorId, 'vat', 'V5')).toMatchObject({ restoCode: 'vat-5' });
  expect(counted.counter.reads).toBe(2);

  for (const code of ['A', 'B', 'C', 'D']) await resolver.resolve(vendorId, 'unit', code);
  expect(resolver.size).toBe(3);
});

test('an admin write through the API is seen at once by a resolver of another process (its own pool)', async () => {
  const vendorId = newVendor();
  const other = createDb(app.t.url, 2);
  try {
    const counted = mappingReads(other);
    const resolver = createMappingResolver(counted.db, { max: 10_000, ttlMs: 5 * 60_000 });
    expect(await resolver.resolve(vendorId, 'unit', 'BAG')).toBeNull();
    expect(await resolver.resolve(vendorId, 'unit', 'BAG')).toBeNull();
    expect(counted.counter.reads).toBe(1);

    const made = await create({ vendorId, mappingType: 'unit', erpCode: 'BAG', restoCode: 'bag' });
    expect(made.statusCode).toBe(201);
    expect(await resolver.resolve(vendorId, 'unit', 'BAG')).toEqual({ restoCode: 'bag', restoLabel: null });

    const id = made.json<{ id: string }>().id;
    await app.inject({
      method: 'PUT',
      url: `/api/admin/mappings/${id}`,
      headers: apiKey,
      payload: { restoCode: 'sack' },
    });
    expect(await resolver.resolve(vendorId, 'unit', 'BAG')).toMatchObject({ restoCode: 'sack' });
    await app.inject({ method: 'DELETE', url: `/api/admin/mappings/${id}`, headers: apiKey });
    expect(await resolver.resolve(vendorId, 'unit', 'BAG')).toBeNull();
    await app.inject({
      method: 'POST',
      url: '/api/admin/mappings/seed',
      headers: apiKey,
      payload: { mappings: [{ vendorId, mappingType: 'unit', erpCode: 'BAG', restoCode: 'bag-2' }] },
    });
    expect(await resolver.resolve(vendorId, 'unit', 'BAG')).toMatchObject({ restoCode: 'bag-2' });
  } finally {
    await other.destroy();
  }
});

test('a write through the admin API clears the API cache: an unmapped unit becomes mapped at once', async () => {
  const reg = await app.inject({
    method: 'POST',
    url: '/api/agents/register',
    headers: { authorization: `Bearer ${app.config.AGENT_SECRET}` },
    payload: {
      vendorId: newVendor(),
      agentUrl: 'http://127.0.0.1:9',
      authToken: 'agent-token-cache-test-0001',
    },
  });
  const vendorId = reg.json<{ vendorId: string }>().vendorId;
  const headers = { authorization: 'Bearer agent-token-cache-test-0001' };
  await create({ vendorId, mappingType: 'vat', erpCode: 'V21', restoCode: 'vat-21' });
  const push = () =>
    app.inject({
      method: 'POST',
      url: '/api/sync/items',
      headers,
      payload: {
        vendorId,
        items: [{ sku: 'S1', name: 'Salt', unit: 'BAG', vat: 'V21', updatedAt: new Date().toISOString() }],
      },
    });
  expect((await push()).json()).toMatchObject({ failed: 1, results: [{ reason: 'UNMAPPED_UNIT' }] });
  await create({ vendorId, mappingType: 'unit', erpCode: 'BAG', restoCode: 'bag' });
  expect((await push()).json()).toMatchObject({ processed: 1 });
});

test('a seed in progress and a single mapping write queue behind each other, never deadlock', async () => {
  const vendorId = newVendor();
  const row = (erp_code: string, resto_code: string) => ({
    vendor_id: vendorId,
    mapping_type: 'unit' as const,
    erp_code,
    resto_code,
    resto_label: null,
  });
  const x = await upsertMapping(app.t.db, row('X', 'x-1'));
  let update: Promise<unknown> | undefined;
  await app.t.db.transaction().execute(async (trx) => {
    // The seed's first chunk: it now holds the version row (its trigger bumps it).
    await seedMappings(trx, [row('Y', 'y-1')]);
    // A single write of row X meanwhile, on its own connection.
    update = updateMapping(app.t.db, x.id, { resto_code: 'x-2' });
    await new Promise((r) => setTimeout(r, 300));
    // The seed's next chunk writes row X too. Had the single write locked X before waiting for the
    // version row, the two would wait on each other and PostgreSQL would abort one (40P01).
    await seedMappings(trx, [row('X', 'x-3')]);
  });
  await update;
  const after = await listMappings(app.t.db, { vendorId }, { limit: 10, offset: 0 });
  // The single write waited for the seed and ran after it.
  expect(after.rows.find((m) => m.erp_code === 'X')?.resto_code).toBe('x-2');
  expect(after.rows.find((m) => m.erp_code === 'Y')?.resto_code).toBe('y-1');
});
