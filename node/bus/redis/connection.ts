import { Cluster, Redis, type ClusterOptions, type RedisOptions } from 'ioredis';
import type { ConnectionOptions } from 'node:tls';
import type { RedisAddress } from './address.js';

/** A connection the bus uses: to one server (standalone or the Sentinel-elected primary), or to a Redis Cluster. */
export type RedisClient = Redis | Cluster;

export interface BusSettings {
  address: RedisAddress;
  prefix: string;
  inboxMaxLength: number;
  inboxTtlSeconds: number;
  commandTimeoutMs: number;
  report: (error: unknown) => void;
  /** How the data servers' certificates are checked when the address says TLS (a CA bundle); unset: the system's CAs. */
  tls?: Pick<ConnectionOptions, 'ca'> | undefined;
  /** Sentinel mode: the sentinels too are asked over TLS, checked as the data servers are (as the URL's sentinelTls=true). */
  sentinelTls?: boolean | undefined;
}

/** Options of one connection that differ by its role (the commands' timeout, the blocking reader's socket timeout). */
export interface ConnectionExtras {
  commandTimeout?: number;
  socketTimeout?: number;
  /** Batches the commands issued in one tick into one round trip (per server, in a Cluster). */
  enableAutoPipelining?: boolean;
}

const CONNECT_TIMEOUT_MS = 2_000;

/**
 * A connection that fails fast while Redis is away instead of queueing: commands are
 * rejected when it is not ready (no offline queue) and those in flight when it drops are
 * rejected at once (no retry per request), while it keeps reconnecting in the background:
 * to the same server, to the primary the sentinels name now, or to the Cluster's
 * servers as its slot map says.
 */
export function openConnection(settings: BusSettings, role: string, extras: ConnectionExtras): RedisClient {
  const connectionName = `${settings.prefix}${role}`.replace(/[^\x21-\x7e]/g, '_');
  const perServer: RedisOptions = {
    lazyConnect: true,
    maxRetriesPerRequest: 0,
    autoResendUnfulfilledCommands: false,
    connectTimeout: CONNECT_TIMEOUT_MS,
    connectionName,
    ...(extras.commandTimeout === undefined ? {} : { commandTimeout: extras.commandTimeout }),
    ...(extras.socketTimeout === undefined ? {} : { socketTimeout: extras.socketTimeout }),
    ...(settings.address.tls ? { tls: { ...settings.tls } } : {}),
  };
  const connection = openFor(settings, perServer, extras.enableAutoPipelining ?? false);
  connection.on('error', () => {
    // Connection errors surface as rejected commands and through isHealthy; the event only
    // needs a listener so ioredis does not print them.
  });
  // ioredis gives up for good (status `end`) when a connect is cut short, e.g. by a
  // failover while it asks the sentinels. A connection the bus did not close starts over.
  connection.on('end', () => {
    if (closedOnPurpose.has(connection)) return;
    setTimeout(() => {
      if (!closedOnPurpose.has(connection) && connection.status === 'end') connection.connect().catch(() => undefined);
    }, RECONNECT_AFTER_END_MS).unref();
  });
  return connection;
}

const RECONNECT_AFTER_END_MS = 1_000;
const closedOnPurpose = new WeakSet<RedisClient>();

/** Closes a connection for good (it is not reconnected). */
export function closeConnection(connection: RedisClient): void {
  closedOnPurpose.add(connection);
  connection.disconnect();
}

/**
 * Connects and resolves once commands can be sent: on a Cluster, once each master's
 * connection is up too. Without an offline queue, a command for a server whose connection
 * is still shaking hands fails; a Cluster makes those connections when it reads the slot
 * map, and only connects them on their first command.
 */
export async function whenConnected(connection: RedisClient): Promise<void> {
  if (connection.status === 'wait' || connection.status === 'end') await connection.connect();
  else if (connection.status !== 'ready') {
    await new Promise<void>((resolve, reject) => {
      const ready = (): void => {
        connection.off('end', ended);
        resolve();
      };
      const ended = (): void => {
        connection.off('ready', ready);
        reject(new Error('the connection ended while connecting'));
      };
      connection.once('ready', ready);
      connection.once('end', ended);
    });
  }
  if (connection instanceof Cluster) await Promise.all(connection.nodes('master').map((master) => master.ping()));
}

function openFor(settings: BusSettings, perServer: RedisOptions, enableAutoPipelining: boolean): RedisClient {
  const { address } = settings;
  const retryStrategy = (attempt: number): number => Math.min(attempt * 100, 1_000);
  switch (address.mode) {
    case 'standalone':
      return new Redis(address.url, { ...perServer, enableOfflineQueue: false, retryStrategy, enableAutoPipelining });
    case 'sentinel':
      return new Redis({
        ...perServer,
        enableOfflineQueue: false,
        retryStrategy,
        enableAutoPipelining,
        sentinels: address.sentinels,
        name: address.masterName,
        username: address.username,
        password: address.password,
        sentinelPassword: address.sentinelPassword,
        db: address.db,
        // TLS (perServer's) to the primary and replicas the sentinels name; the sentinels are asked in plain text unless sentinelTls.
        ...(address.tls ? { enableTLSForSentinelMode: true } : {}),
        ...(settings.sentinelTls === true || address.sentinelTls ? { sentinelTLS: { ...settings.tls } } : {}),
        sentinelCommandTimeout: CONNECT_TIMEOUT_MS,
        sentinelRetryStrategy: retryStrategy,
        // No failoverDetector: its +switch-master can cut short a reconnect already asking
        // the sentinels, which ends the connection for good. A primary demoted while it
        // runs answers writes with READONLY instead: reconnect, which asks the sentinels again.
        reconnectOnError: (error) => error.message.startsWith('READONLY'),
      });
    case 'cluster': {
      const options: ClusterOptions = {
        lazyConnect: true,
        enableOfflineQueue: false,
        // Not on a Cluster: an automatic batch that spans slots whose master changed comes
        // back as MOVED errors instead of being redirected.
        enableAutoPipelining: false,
        clusterRetryStrategy: retryStrategy,
        // A command whose connection dropped may have run (an XADD applied, its reply lost):
        // sent again it would deliver twice. It fails as `unavailable` instead, as in the
        // other modes. Redirections (MOVED, ASK) and CLUSTERDOWN mean it did not run: retried.
        retryDelayOnFailover: 0,
        retryDelayOnClusterDown: 200,
        maxRedirections: 8,
        slotsRefreshTimeout: CONNECT_TIMEOUT_MS,
        redisOptions: {
          ...perServer,
          username: address.username,
          password: address.password,
        },
      };
      return new Cluster(address.seeds, options);
    }
  }
}

/**
 * Publishes on pub/sub. A Cluster relays a PUBLISH to every server over its bus, and
 * ioredis sends one (it names no key) to any server: two messages sent through two servers
 * can arrive in either order (a user's `online` after their `offline`). So on a Cluster every
 * message goes through one server, the first master by address, as on a single Redis.
 */
export function publish(connection: RedisClient, channel: string, message: string): Promise<number> {
  if (!(connection instanceof Cluster)) return connection.publish(channel, message);
  // Every typing signal and presence change comes through here: one pass, no sorting.
  let first: Redis | undefined;
  for (const master of connection.nodes('master')) if (first === undefined || serverAddress(master).localeCompare(serverAddress(first)) < 0) first = master;
  return (first ?? connection).publish(channel, message);
}

/** `host:port` of one server of a Cluster, as its slot map names it. */
export function serverAddress(server: Redis): string {
  return `${server.options.host ?? ''}:${String(server.options.port ?? '')}`;
}

/** Milliseconds from a TIME reply (seconds, microseconds). */
export function serverMilliseconds([seconds, microseconds]: readonly unknown[]): number {
  return Number(seconds) * 1000 + Math.floor(Number(microseconds) / 1000);
}
