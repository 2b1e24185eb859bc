import { ApplicationFailure } from '@temporalio/activity';
import { AgentCallError } from '../../infra/erp/agent-client';
import { BreakerOpenError } from '../../infra/erp/breaker';
import { Failure } from '../../domain/errors';

/** An agent call's failure as the ApplicationFailure type workflows and retry profiles tell apart. */
export function agentFailure(err: unknown): unknown {
  if (err instanceof BreakerOpenError) {
    return ApplicationFailure.create({ type: Failure.circuitOpen, message: err.message });
  }
  if (err instanceof AgentCallError) {
    return ApplicationFailure.create({
      type: err.kind === 'unavailable' ? Failure.erpAgentUnavailable : Failure.erpAgentRefused,
      message: err.message,
      nonRetryable: err.kind === 'refused',
    });
  }
  return err;
}
