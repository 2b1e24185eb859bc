import {
  alertWorkflowId,
  healthMonitorScheduleId,
  legacyReconcileWorkflowId,
  nodeOfActorId,
  orphanHealerScheduleId,
  oversellDetectorScheduleId,
  reconcileSweepScheduleId,
  reconcileWorkflowId,
  relayWorkflowId,
} from '../../../workflows/ids';
import { actorOwner } from '../../../actors/namespace-guard';

const store = '3261a323-06d4-4512-934f-6e5561596e2c';

test('every id carries the node id, and says whose it is', () => {
  expect(relayWorkflowId('shop-1', 'cloud')).toBe('relay:shop-1:cloud');
  expect(reconcileWorkflowId('shop-1', store, 'cloud')).toBe(`reconcile:shop-1:${store}:cloud`);
  expect(orphanHealerScheduleId('shop-1')).toBe('shop-1:orphan-healer');
  expect(reconcileSweepScheduleId('shop-1')).toBe('shop-1:reconcile-sweep');
  expect(oversellDetectorScheduleId('shop-1')).toBe('shop-1:oversell-detector');
  expect(healthMonitorScheduleId('shop-1')).toBe('shop-1:health-snapshot');
  expect(alertWorkflowId('shop-1', '42')).toBe('alert:shop-1:42');
  for (const id of [
    healthMonitorScheduleId('shop-1'),
    alertWorkflowId('shop-1', '42'),
    relayWorkflowId('shop-1', 'cloud'),
    reconcileWorkflowId('shop-1', store, 'cloud'),
    orphanHealerScheduleId('shop-1'),
    reconcileSweepScheduleId('shop-1'),
    oversellDetectorScheduleId('shop-1'),
  ]) {
    expect(nodeOfActorId(id)).toBe('shop-1');
  }
});

test('ids from before ids carried the node id, and foreign ids, belong to nobody by their id', () => {
  for (const id of [
    'relay:cloud',
    legacyReconcileWorkflowId(store, 'cloud'),
    'orphan-healer',
    'reconcile-sweep',
    'other-app-wf',
  ]) {
    expect(nodeOfActorId(id)).toBeUndefined();
  }
});

test("an actor's memo names its node before its id does", () => {
  expect(actorOwner('relay:cloud', { node: 'shop-1' })).toBe('shop-1');
  expect(actorOwner('relay:shop-2:cloud', { node: 'shop-1' })).toBe('shop-1');
  expect(actorOwner('relay:shop-2:cloud', undefined)).toBe('shop-2');
  expect(actorOwner('relay:cloud', {})).toBeUndefined();
});
