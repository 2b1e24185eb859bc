// Entrypoint: applies pending migrations and exits.
import { loadConfig } from '../infra/config';
import { createDb, MAINTENANCE_DB_OPTIONS, migrateToLatest } from '../infra/db';

async function main(): Promise<void> {
  const config = loadConfig();
  const db = createDb(config.DATABASE_URL, MAINTENANCE_DB_OPTIONS);
  try {
    const { results } = await migrateToLatest(db);
    for (const r of results ?? []) console.log(`${r.status}: ${r.migrationName}`);
    if (!results?.length) console.log('database is up to date');
  } finally {
    await db.destroy();
  }
}

main().catch((err: unknown) => {
  console.error(err instanceof Error ? err.message : err);
  process.exit(1);
});
