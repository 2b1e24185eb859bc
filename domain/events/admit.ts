import type { Principal } from '../auth/token-resolver';
import { Rejection } from '../errors';
import { decodeEvent, type EventLimits, type EventRejection } from './decode';
import { NODE_MADE_TYPES, type SyncEvent } from './schemas';

export interface Admitted {
  /** The events that go on to the log, in request order. */
  events: SyncEvent[];
  /** Each admitted event's position in the request. */
  positions: number[];
  rejected: EventRejection[];
}

/**
 * Decodes each event of a push on its own and checks it belongs to the request's store (and, for a
 * device, to that device). What fails is listed with its position; the rest goes on to the log. Only
 * peers may carry an origin node and an ordering stamp: for anyone else this node is the origin.
 */
export function admitEvents(
  raw: unknown[],
  principal: Principal,
  storeId: string,
  limits: EventLimits,
): Admitted {
  const events: SyncEvent[] = [];
  const positions: number[] = [];
  const rejected: EventRejection[] = [];
  raw.forEach((value, index) => {
    const decoded = decodeEvent(value, index, limits);
    if (!decoded.ok) return rejected.push(decoded.rejection);
    const e = decoded.event;
    if (e.store_id !== storeId) {
      return rejected.push({
        index,
        event_id: e.event_id,
        code: Rejection.storeMismatch,
        message: `events.${index}.store_id: differs from the request's store_id`,
      });
    }
    if (principal.kind === 'device' && e.device_id.toLowerCase() !== principal.deviceId) {
      return rejected.push({
        index,
        event_id: e.event_id,
        code: Rejection.deviceMismatch,
        message: `events.${index}.device_id: a device may only push its own events`,
      });
    }
    if (principal.kind !== 'peer' && NODE_MADE_TYPES.has(e.type)) {
      return rejected.push({
        index,
        event_id: e.event_id,
        code: Rejection.nodeMadeEvent,
        message: `events.${index}.type: ${e.type} is made by nodes only`,
      });
    }
    if (principal.kind !== 'peer') {
      const { origin_node: _origin, hlc: _hlc, ...own } = e;
      events.push(own as SyncEvent);
    } else {
      events.push(e);
    }
    positions.push(index);
  });
  return { events, positions, rejected };
}
