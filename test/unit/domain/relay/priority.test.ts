import { DEFAULT_RELAY_PRIORITY, orderCausally, relayPriority } from '../../../../domain/relay/priority';

describe('causal relay order', () => {
  const batch = [
    { type: 'SaleVoided', node_seq: 1 },
    { type: 'DebtPaymentRecorded', node_seq: 2 },
    { type: 'SaleCreated', node_seq: 3 },
    { type: 'DebtCreated', node_seq: 4 },
    { type: 'CashSessionOpened', node_seq: 5 },
    { type: 'ProductCreated', node_seq: 6 },
    { type: 'SaleCreated', node_seq: 7 },
  ];
  const order = orderCausally(batch).map((e) => `${e.type}#${e.node_seq}`);

  test('CashSessionOpened goes before SaleCreated, DebtCreated before its payments, sales before voids', () => {
    const at = (label: string) => order.indexOf(label);
    expect(at('CashSessionOpened#5')).toBeLessThan(at('SaleCreated#3'));
    expect(at('ProductCreated#6')).toBeLessThan(at('SaleCreated#3'));
    expect(at('DebtCreated#4')).toBeLessThan(at('DebtPaymentRecorded#2'));
    expect(at('SaleCreated#7')).toBeLessThan(at('SaleVoided#1'));
  });

  test('same priority keeps commit order', () => {
    expect(order.filter((l) => l.startsWith('SaleCreated'))).toEqual(['SaleCreated#3', 'SaleCreated#7']);
  });

  test('unknown types go last with the default priority 10', () => {
    expect(relayPriority('SomethingNew')).toBe(DEFAULT_RELAY_PRIORITY);
    expect(DEFAULT_RELAY_PRIORITY).toBe(10);
    expect(
      orderCausally([
        { type: 'SomethingNew', node_seq: 1 },
        { type: 'CashLedgerEntryCreated', node_seq: 2 },
      ])[0]!.type,
    ).toBe('CashLedgerEntryCreated');
  });
});
