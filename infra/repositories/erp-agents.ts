import { sql, type Transaction } from 'kysely';
import type { Db } from '../db';
import type { Database } from '../db/schema';
import type { ErpAgent } from '../db/erp-schema';

// ERP agents, one per vendor (erp_agents). The token is kept twice: a bcrypt hash (the seed's
// storage) and its sha-256, which finds the agent a bearer token belongs to in one index lookup.

type Executor = Db | Transaction<Database>;
export type { ErpAgent };

export interface AgentWrite {
  vendor_id: string;
  agent_url: string;
  auth_token_hash: string;
  token_lookup: string;
  version: string | null;
  capabilities: string[];
}

/** Registers a vendor's agent or replaces its registration (url, token, version, capabilities). */
export async function upsertAgent(
  db: Executor,
  a: AgentWrite,
): Promise<{ agent: ErpAgent; created: boolean }> {
  const row = await db
    .insertInto('erp_agents')
    .values({ ...a, capabilities: JSON.stringify(a.capabilities), last_heartbeat_at: new Date() })
    .onConflict((oc) =>
      oc.column('vendor_id').doUpdateSet({
        agent_url: a.agent_url,
        auth_token_hash: a.auth_token_hash,
        token_lookup: a.token_lookup,
        version: a.version,
        capabilities: JSON.stringify(a.capabilities),
        is_active: true,
        last_heartbeat_at: new Date(),
        updated_at: new Date(),
      }),
    )
    .returningAll()
    .returning(sql<boolean>`(xmax = 0)`.as('created'))
    .executeTakeFirstOrThrow();
  const { created, ...agent } = row;
  return { agent, created };
}

export function findAgent(db: Executor, vendorId: string): Promise<ErpAgent | undefined> {
  return db.selectFrom('erp_agents').selectAll().where('vendor_id', '=', vendorId).executeTakeFirst();
}

export function findAgentByTokenLookup(db: Executor, lookup: string): Promise<ErpAgent | undefined> {
  return db.selectFrom('erp_agents').selectAll().where('token_lookup', '=', lookup).executeTakeFirst();
}

export async function recordHeartbeat(
  db: Executor,
  vendorId: string,
  info: Record<string, unknown>,
  version: string | null | undefined,
): Promise<ErpAgent | undefined> {
  return db
    .updateTable('erp_agents')
    .set({
      last_heartbeat_at: new Date(),
      last_heartbeat_info: JSON.stringify(info),
      ...(version ? { version } : {}),
    })
    .where('vendor_id', '=', vendorId)
    .returningAll()
    .executeTakeFirst();
}

export async function listAgents(
  db: Executor,
  page: { limit: number; offset: number },
): Promise<{ rows: ErpAgent[]; total: number }> {
  const [rows, count] = await Promise.all([
    db
      .selectFrom('erp_agents')
      .selectAll()
      .orderBy('vendor_id')
      .limit(page.limit)
      .offset(page.offset)
      .execute(),
    db
      .selectFrom('erp_agents')
      .select((eb) => eb.fn.countAll<string>().as('n'))
      .executeTakeFirstOrThrow(),
  ]);
  return { rows, total: Number(count.n) };
}

/** Every agent, for the health check (the registry holds one row per vendor: a few dozen). */
export function allAgents(db: Executor): Promise<ErpAgent[]> {
  return db.selectFrom('erp_agents').selectAll().orderBy('vendor_id').execute();
}

export function activeVendorIds(db: Executor): Promise<string[]> {
  return db
    .selectFrom('erp_agents')
    .select('vendor_id')
    .where('is_active', '=', true)
    .orderBy('vendor_id')
    .execute()
    .then((rows) => rows.map((r) => r.vendor_id));
}

export function updateAgent(
  db: Executor,
  vendorId: string,
  patch: { agent_url?: string; is_active?: boolean; config?: Record<string, unknown> },
): Promise<ErpAgent | undefined> {
  return db
    .updateTable('erp_agents')
    .set({
      ...(patch.agent_url !== undefined ? { agent_url: patch.agent_url } : {}),
      ...(patch.is_active !== undefined ? { is_active: patch.is_active } : {}),
      ...(patch.config !== undefined ? { config: JSON.stringify(patch.config) } : {}),
      updated_at: new Date(),
    })
    .where('vendor_id', '=', vendorId)
    .returningAll()
    .executeTakeFirst();
}

export async function deleteAgent(db: Executor, vendorId: string): Promise<boolean> {
  const r = await db.deleteFrom('erp_agents').where('vendor_id', '=', vendorId).executeTakeFirst();
  return r.numDeletedRows > 0n;
}
