import { Redis, type RedisOptions } from 'ioredis';

export interface BusSettings {
  url: string;
  prefix: string;
  inboxMaxLength: number;
  inboxTtlSeconds: number;
  commandTimeoutMs: number;
  report: (error: unknown) => void;
}

/**
 * A connection that fails fast while Redis is away instead of queueing: commands are
 * rejected when it is not ready (no offline queue) and those in flight when it drops are
 * rejected at once (no retry per request), while it keeps reconnecting in the background.
 */
export function openConnection(settings: BusSettings, role: string, extra: RedisOptions): Redis {
  const connection = new Redis(settings.url, {
    lazyConnect: true,
    enableOfflineQueue: false,
    maxRetriesPerRequest: 0,
    autoResendUnfulfilledCommands: false,
    connectTimeout: 2_000,
    retryStrategy: (attempt) => Math.min(attempt * 100, 1_000),
    connectionName: `${settings.prefix}${role}`.replace(/[^\x21-\x7e]/g, '_'),
    ...extra,
  });
  connection.on('error', () => {
    // Connection errors surface as rejected commands and through isHealthy; the event only
    // needs a listener so ioredis does not print them.
  });
  return connection;
}

/** Milliseconds from a TIME reply (seconds, microseconds). */
export function serverMilliseconds([seconds, microseconds]: readonly unknown[]): number {
  return Number(seconds) * 1000 + Math.floor(Number(microseconds) / 1000);
}
