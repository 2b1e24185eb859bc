import type { Db } from '../db';

// Where a store's alerts are delivered besides the log and the alerts table: an operator's webhook.
// The URL may carry a receiver's secret, so it is never logged or returned whole.

export async function setAlertWebhook(db: Db, storeId: string, url: string | null): Promise<void> {
  await db
    .insertInto('store_alert_settings')
    .values({ store_id: storeId, webhook_url: url })
    .onConflict((oc) => oc.column('store_id').doUpdateSet({ webhook_url: url, updated_at: new Date() }))
    .execute();
}

export async function alertWebhookOf(db: Db, storeId: string): Promise<string | null> {
  const row = await db
    .selectFrom('store_alert_settings')
    .select('webhook_url')
    .where('store_id', '=', storeId)
    .executeTakeFirst();
  return row?.webhook_url ?? null;
}
