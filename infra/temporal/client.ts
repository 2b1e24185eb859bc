import { Client, Connection } from '@temporalio/client';
import type { Config } from '../config';

export interface TemporalClient {
  connection: Connection;
  client: Client;
}

/** A client bound to this node's namespace. Close `connection` at shutdown. */
export async function connectTemporal(
  config: Pick<Config, 'TEMPORAL_ADDRESS' | 'TEMPORAL_NAMESPACE'>,
): Promise<TemporalClient> {
  const connection = await Connection.connect({ address: config.TEMPORAL_ADDRESS });
  const client = new Client({ connection, namespace: config.TEMPORAL_NAMESPACE });
  return { connection, client };
}
