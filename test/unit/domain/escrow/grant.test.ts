import { decideGrant, DenyReason, nodeRights } from '../../../../domain/escrow/grant';

const base = { requested: 5, stock: 10, reserved: 0, deviceHeld: 0, rights: 10, deviceShare: 0.3 };

describe('decideGrant', () => {
  test('at most 30 % of the available stock per device', () => {
    expect(decideGrant(base)).toEqual({ qty: 3, reason: null });
  });
  test('what is asked, when it fits', () => {
    expect(decideGrant({ ...base, requested: 2 })).toEqual({ qty: 2, reason: null });
  });
  test('the 30 % counts what other devices hold out and what this device already holds', () => {
    // Others hold 3 of 10: 30 % of 7 is 2.1 → 2.
    expect(decideGrant({ ...base, reserved: 3 })).toEqual({ qty: 2, reason: null });
    // This device holds 2 already: 30 % of 10 is 3, one more.
    expect(decideGrant({ ...base, reserved: 2, deviceHeld: 2 })).toEqual({ qty: 1, reason: null });
    expect(decideGrant({ ...base, reserved: 3, deviceHeld: 3 })).toEqual({
      qty: 0,
      reason: DenyReason.deviceLimit,
    });
  });
  test('never more than the unreserved remainder (partial grant), none when nothing is left', () => {
    expect(decideGrant({ ...base, deviceShare: 1, stock: 10, reserved: 8 })).toEqual({
      qty: 2,
      reason: null,
    });
    expect(decideGrant({ ...base, stock: 4, reserved: 4 })).toEqual({
      qty: 0,
      reason: DenyReason.outOfStock,
    });
    expect(decideGrant({ ...base, stock: -2 })).toEqual({ qty: 0, reason: DenyReason.outOfStock });
  });
  test('never more than the rights this node holds', () => {
    expect(decideGrant({ ...base, rights: 1 })).toEqual({ qty: 1, reason: null });
    expect(decideGrant({ ...base, rights: 0 })).toEqual({ qty: 0, reason: DenyReason.noRights });
  });
  test('whole units', () => {
    expect(decideGrant({ ...base, stock: 5 })).toEqual({ qty: 1, reason: null });
    expect(decideGrant({ ...base, requested: 2.5, deviceShare: 1 })).toEqual({ qty: 2, reason: null });
  });
});

test('nodeRights: share plus moved in, minus moved out and held', () => {
  expect(nodeRights({ share: 10, movedIn: 4, movedOut: 3, outstanding: 5 })).toBe(6);
});
