import type { Transaction } from 'kysely';
import type { Db } from '../db';
import type { Database } from '../db/schema';

// erp_mapping_version: one row, bumped by a trigger in the transaction of every write to
// erp_code_mappings (migration 20261204_0013). Mapping caches compare it before use.

type Executor = Db | Transaction<Database>;

/** The current mapping version (a bigint, as text): it changes with every committed mapping write. */
export async function mappingVersion(db: Executor): Promise<string> {
  const row = await db
    .selectFrom('erp_mapping_version')
    .select('version')
    .where('id', '=', true)
    .executeTakeFirst();
  return String(row?.version ?? '0');
}
