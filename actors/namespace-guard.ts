import type { Client } from '@temporalio/client';
import type { Config } from '../infra/config';
import { peerRelayWorkflow } from '../workflows/relay';
import { reconcileSweepWorkflow } from '../workflows/reconcile-sweep';
import { storeReconcileWorkflow } from '../workflows/store-reconcile';
import { nodeOfActorId } from '../workflows/ids';

/**
 * The node an actor belongs to: the `node` its memo names (every actor and schedule the node makes
 * carries it), else what its id says; undefined when neither says.
 */
export function actorOwner(id: string, memo: Record<string, unknown> | undefined): string | undefined {
  return typeof memo?.node === 'string' ? memo.node : nodeOfActorId(id);
}

export interface ForeignActor {
  kind: 'workflow' | 'schedule';
  id: string;
  node: string;
}

/** Enough to name the problem; a namespace full of another node's actors is not listed in full. */
const MAX_LISTED = 10;

/** Running workflows and schedules in the client's namespace that belong to a node other than `nodeId`. */
export async function findForeignActors(client: Client, nodeId: string): Promise<ForeignActor[]> {
  const found: ForeignActor[] = [];
  const types = [peerRelayWorkflow, storeReconcileWorkflow, reconcileSweepWorkflow]
    .map((w) => `'${w.name}'`)
    .join(', ');
  for await (const wf of client.workflow.list({
    query: `ExecutionStatus = 'Running' AND WorkflowType IN (${types})`,
  })) {
    const node = actorOwner(wf.workflowId, wf.memo);
    if (node !== undefined && node !== nodeId) found.push({ kind: 'workflow', id: wf.workflowId, node });
    if (found.length >= MAX_LISTED) return found;
  }
  for await (const schedule of client.schedule.list()) {
    const node = actorOwner(schedule.scheduleId, schedule.memo);
    if (node !== undefined && node !== nodeId)
      found.push({ kind: 'schedule', id: schedule.scheduleId, node });
    if (found.length >= MAX_LISTED) return found;
  }
  return found;
}

/** Thrown at start-up when the namespace already serves another node. */
export class NamespaceInUseError extends Error {
  constructor(
    readonly namespace: string,
    readonly nodeId: string,
    readonly foreign: ForeignActor[],
  ) {
    const nodes = [...new Set(foreign.map((f) => f.node))].join(', ');
    const ids = foreign.map((f) => `${f.kind} ${f.id}`).join(', ');
    super(
      `Temporal namespace "${namespace}" already holds actors of another node (${nodes}): ${ids}. ` +
        `This node is NODE_ID=${nodeId}; each node needs a namespace of its own (set TEMPORAL_NAMESPACE), ` +
        `or NODE_ID is wrong. Refusing to start, so as to neither terminate nor signal that node's actors.`,
    );
    this.name = 'NamespaceInUseError';
  }
}

/**
 * Start-up guard: two nodes pointed at one namespace by mistake would nudge, pause and reconcile
 * through each other's actors. The first node keeps the namespace; a second one refuses to start.
 */
export async function assertNamespaceIsOurs(
  client: Client,
  config: Pick<Config, 'NODE_ID' | 'TEMPORAL_NAMESPACE'>,
): Promise<void> {
  const foreign = await findForeignActors(client, config.NODE_ID);
  if (foreign.length > 0) throw new NamespaceInUseError(config.TEMPORAL_NAMESPACE, config.NODE_ID, foreign);
}
