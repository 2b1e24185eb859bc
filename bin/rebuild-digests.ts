// Entrypoint: recomputes the anti-entropy digests from the events (all stores, or one), for a
// database whose events were loaded or repaired outside ingest.
// Usage: tsx bin/rebuild-digests.ts [store_id] (built: node dist/bin/rebuild-digests.js [store_id])
import { loadConfig } from '../infra/config';
import { createDb, MAINTENANCE_DB_OPTIONS } from '../infra/db';
import { rebuildDigests } from '../infra/repositories/event-digests';

async function main(): Promise<void> {
  const storeId = process.argv[2];
  const config = loadConfig();
  const db = createDb(config.DATABASE_URL, MAINTENANCE_DB_OPTIONS);
  try {
    const buckets = await rebuildDigests(db, storeId);
    console.log(`${buckets} hour digests rebuilt${storeId ? ` for store ${storeId}` : ''}`);
  } finally {
    await db.destroy();
  }
}

main().catch((err: unknown) => {
  console.error(err instanceof Error ? err.message : err);
  process.exit(1);
});
