import type { ConnectionOptions } from 'node:tls';
import { auth, Client, policies } from 'cassandra-driver';
import { CurrentHostsPolicy } from './current-hosts.js';

/** Where the Cassandra cluster is and how long to wait for it. */
export interface CassandraConnection {
  /** `host:port` (or `host`, port 9042) of one or more nodes. */
  contactPoints: readonly string[];
  localDataCenter: string;
  /** The keyspace every unqualified table name refers to; unset for `migrate`. */
  keyspace?: string;
  connectTimeoutMs?: number;
  readTimeoutMs?: number;
  /** Client encryption; `ca`: the PEM bundle the servers' certificates must chain to (default: the system's CAs). */
  tls?: { ca?: string | undefined } | undefined;
  /** A login for Cassandra's PasswordAuthenticator. */
  credentials?: CassandraCredentials;
}

/** A name and password for Cassandra's PasswordAuthenticator. */
export interface CassandraCredentials {
  username: string;
  password: string;
}

/**
 * How long the driver waits, at most, before trying a node it lost again. Its default (10
 * minutes, doubling from 1 s) would leave a node unready and refusing every send for up to
 * that long after Cassandra is back; one connection attempt every few seconds costs nothing.
 */
export const MAX_RECONNECT_DELAY_MS = 5_000;

/** Stream ids of native protocol v3 and later. */
const MAX_REQUESTS_PER_CONNECTION = 32_768;

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
    // The driver fails a request outright (BusyConnectionError) once a connection has this
    // many in flight; its default, 2048, is what a reconnect storm of 10,000 sockets hit,
    // each writing its session row at once. The store keeps far fewer in flight and queues
    // the rest (REQUESTS_IN_FLIGHT in store.ts); this is the protocol's own limit, for any
    // other caller.
    pooling: { maxRequestsPerConnection: MAX_REQUESTS_PER_CONNECTION },
    policies: {
      loadBalancing: new CurrentHostsPolicy(),
      reconnection: new policies.reconnection.ExponentialReconnectionPolicy(1_000, MAX_RECONNECT_DELAY_MS),
    },
    ...(connection.tls === undefined ? {} : { sslOptions: verifiedTls(connection.tls.ca) }),
    ...(connection.credentials === undefined ? {} : { authProvider: new auth.PlainTextAuthProvider(connection.credentials.username, connection.credentials.password) }),
  });
}

/**
 * The driver's TLS options. It turns certificate checks off unless told (rejectUnauthorized:
 * false by default): here the chain is always checked. The host name is not: the driver
 * reaches every node by the address it announces (on Kubernetes a pod IP that changes with
 * each restart), which a certificate cannot list; a CA issued for the cluster alone is what
 * says a server is one of its nodes.
 */
function verifiedTls(ca: string | undefined): ConnectionOptions {
  return { rejectUnauthorized: true, checkServerIdentity: () => undefined, ...(ca === undefined ? {} : { ca }) };
}
