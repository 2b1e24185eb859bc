import { ensureServices } from '../../scripts/services';

/**
 * Runs once before all test files: starts (or reuses) the local PostgreSQL and Temporal dev server,
 * unless DATABASE_URL / TEMPORAL_ADDRESS already point at running ones. Test workers inherit the env.
 */
export default async function globalSetup(): Promise<void> {
  const endpoints = await ensureServices({ log: () => undefined });
  process.env.DATABASE_URL ??= endpoints.databaseUrl;
  process.env.TEMPORAL_ADDRESS ??= endpoints.temporalAddress;
}
