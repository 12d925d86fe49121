import { Client, policies } from 'cassandra-driver';

/** Where the Cassandra cluster is and how long to wait for it. */
export interface CassandraConnection {
  /** `host:port` (or `host`, port 9042) of one or more nodes. */
  contactPoints: readonly string[];
  localDataCenter: string;
  /** The keyspace every unqualified table name refers to; unset for `migrate`. */
  keyspace?: string;
  connectTimeoutMs?: number;
  readTimeoutMs?: number;
}

/**
 * How long the driver waits, at most, before trying a node it lost again. Its default (10
 * minutes, doubling from 1 s) would leave a node unready and refusing every send for up to
 * that long after Cassandra is back; one connection attempt every few seconds costs nothing.
 */
const MAX_RECONNECT_DELAY_MS = 5_000;

/** A driver client for a cluster, not yet connected. */
export function cassandraClient(connection: CassandraConnection): Client {
  return new Client({
    contactPoints: [...connection.contactPoints],
    localDataCenter: connection.localDataCenter,
    keyspace: connection.keyspace,
    socketOptions: {
      connectTimeout: connection.connectTimeoutMs ?? 5_000,
      readTimeout: connection.readTimeoutMs ?? 12_000,
    },
    policies: { reconnection: new policies.reconnection.ExponentialReconnectionPolicy(1_000, MAX_RECONNECT_DELAY_MS) },
  });
}
