import type { Db } from '../db';
import type { Log } from '../log';
import type { ErpWorkerMetrics } from '../metrics';
import { lockBreaker, saveBreaker } from '../repositories/erp-circuit-breakers';
import {
  admit,
  record,
  type BreakerSettings,
  type BreakerStateName,
  type Transition,
} from '../../domain/erp/breaker';
import { raiseErpAlert, type AlertSink } from './alerts';

// Calls to an agent through its vendor's breaker (the seed's opossum, made durable): admission and
// outcome are each one short transaction on the breaker row, so all workers share the state. The
// call itself runs outside any transaction.

export class BreakerOpenError extends Error {
  constructor(
    readonly breaker: string,
    readonly retryAfterMs: number,
  ) {
    super(`circuit breaker ${breaker} is open; next trial in ${Math.ceil(retryAfterMs / 1000)} s`);
    this.name = 'BreakerOpenError';
  }
}

export interface BreakerDeps {
  db: Db;
  log: Log;
  settings: BreakerSettings;
  alerts: AlertSink;
  metrics?: Pick<ErpWorkerMetrics, 'erpBreakerState' | 'erpBreakerTransitions' | 'erpBreakerRejections'>;
}

const STATE_VALUE: Record<BreakerStateName, number> = { closed: 0, half_open: 1, open: 2 };

export async function throughBreaker<T>(
  deps: BreakerDeps,
  vendorId: string,
  apiType: string,
  call: () => Promise<T>,
  /** Which failures count against the breaker (all by default). */
  counts: (err: unknown) => boolean = () => true,
): Promise<T> {
  const name = `${vendorId}:${apiType}`;
  const labels = { vendor: vendorId, api_type: apiType };
  const seen = (state: BreakerStateName, t?: Transition) => {
    deps.metrics?.erpBreakerState.set(labels, STATE_VALUE[state]);
    if (t) deps.metrics?.erpBreakerTransitions.inc({ ...labels, transition: t });
  };
  const admission = await deps.db.transaction().execute(async (trx) => {
    const current = await lockBreaker(trx, vendorId, apiType);
    const a = admit(current, Date.now(), deps.settings);
    if (a.allowed) await saveBreaker(trx, vendorId, apiType, a.next);
    return { ...a, was: current.state };
  });
  if (!admission.allowed) {
    seen(admission.was);
    deps.metrics?.erpBreakerRejections.inc(labels);
    throw new BreakerOpenError(name, admission.retryAfterMs);
  }
  seen(admission.next.state, admission.transition);
  if (admission.transition) logTransition(deps.log, name, admission.transition);
  let ok = true;
  try {
    return await call();
  } catch (err) {
    ok = !counts(err);
    throw err;
  } finally {
    const outcome = await deps.db.transaction().execute(async (trx) => {
      const r = record(await lockBreaker(trx, vendorId, apiType), ok, Date.now(), deps.settings);
      await saveBreaker(trx, vendorId, apiType, r.next);
      return r;
    });
    seen(outcome.next.state, outcome.transition);
    const transition = outcome.transition;
    if (transition) {
      logTransition(deps.log, name, transition);
      if (transition === 'open') {
        await raiseErpAlert(deps.db, deps.alerts, {
          type: 'circuit_breaker_open',
          severity: 'P2',
          subject: `circuit breaker ${name} opened: the agent fails half or more of its calls`,
          payload: { vendorId, apiType },
        });
      }
    }
  }
}

function logTransition(log: Log, breaker: string, t: Transition) {
  log.warn({ breaker, transition: t }, `erp circuit breaker ${breaker}: ${t}`);
}
