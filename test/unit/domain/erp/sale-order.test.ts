import { saleOrderOf } from '../../../../domain/erp/sale-order';

const base = {
  store_id: '5b1f8a3e-0000-4000-8000-000000000001',
  event_id: '5b1f8a3e-0000-4000-8000-000000000002',
  created_at: '2026-12-01T10:00:00.000Z',
};
const saleId = '5B1F8A3E-0000-4000-8000-0000000000AA';
const items = [{ product_id: '5b1f8a3e-0000-4000-8000-000000000003', qty: 2, unit_price: 3.5 }];

test('a sale becomes an order with its lines as sold, its store, sale and event ids, and its total (either alias)', () => {
  expect(
    saleOrderOf({ ...base, payload: { sale_id: saleId, items, total_amount: 7, warehouse_id: 'w' } }),
  ).toEqual({
    saleId: saleId.toLowerCase(),
    payload: {
      source: 'pos',
      storeId: base.store_id,
      saleId: saleId.toLowerCase(),
      eventId: base.event_id,
      soldAt: base.created_at,
      warehouseId: 'w',
      customerId: null,
      total: 7,
      lines: items,
    },
  });
});

test('a payload that cannot be an order (no sale id, a non-uuid one, no lines) is none, so it never stalls the feed', () => {
  expect(saleOrderOf({ ...base, payload: { items } })).toBeNull();
  expect(saleOrderOf({ ...base, payload: { sale_id: 'not-a-uuid', items } })).toBeNull();
  expect(saleOrderOf({ ...base, payload: { sale_id: saleId, items: [] } })).toBeNull();
});
