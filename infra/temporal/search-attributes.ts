import type { Connection } from '@temporalio/client';
import type { NativeConnection } from '@temporalio/worker';
import { temporal } from '@temporalio/proto';

/** Custom search attributes the node sets on its workflows, so the UI can filter by store, peer or device. */
export const SEARCH_ATTRIBUTES = {
  StoreId: temporal.api.enums.v1.IndexedValueType.INDEXED_VALUE_TYPE_KEYWORD,
  PeerId: temporal.api.enums.v1.IndexedValueType.INDEXED_VALUE_TYPE_KEYWORD,
  DeviceId: temporal.api.enums.v1.IndexedValueType.INDEXED_VALUE_TYPE_KEYWORD,
} as const;

/**
 * Registers the missing search attributes in the namespace (idempotent). On a cluster where the
 * node may not do that (Temporal Cloud), an operator registers them once; the error says which.
 */
export async function ensureSearchAttributes(
  connection: Pick<Connection, 'operatorService'> | Pick<NativeConnection, 'operatorService'>,
  namespace: string,
): Promise<string[]> {
  const existing = await connection.operatorService.listSearchAttributes({ namespace });
  const missing = Object.entries(SEARCH_ATTRIBUTES).filter(
    ([name]) => !(name in (existing.customAttributes ?? {})),
  );
  if (missing.length === 0) return [];
  try {
    await connection.operatorService.addSearchAttributes({
      namespace,
      searchAttributes: Object.fromEntries(missing),
    });
  } catch (err) {
    const names = missing.map(([n]) => n).join(', ');
    throw new Error(`cannot register search attributes ${names} in namespace ${namespace}: ${String(err)}`);
  }
  return missing.map(([n]) => n);
}
