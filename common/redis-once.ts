import { Redis, type RedisOptions } from 'ioredis';
import { withinMs } from './deadline.js';

/**
 * Runs `question` on a one-off connection to `target` (a URL, or host and port) and closes it:
 * no retries, no offline queue, the whole exchange (name lookup and TLS included) bounded by
 * `timeoutMs`. For callers that ask a server one thing now and then (the operator asking
 * Sentinels, the test environment waiting on its servers), not for the bus.
 */
export async function askRedisOnce<T>(
  target: string | Pick<RedisOptions, 'host' | 'port'>,
  question: (client: Redis) => Promise<T>,
  options: { timeoutMs: number; tls?: { ca: string } | undefined },
): Promise<T> {
  const settings: RedisOptions = {
    lazyConnect: true,
    connectTimeout: options.timeoutMs,
    maxRetriesPerRequest: 0,
    enableOfflineQueue: false,
    retryStrategy: () => null,
    ...(options.tls === undefined ? {} : { tls: { ca: options.tls.ca } }),
  };
  const client = typeof target === 'string' ? new Redis(target, settings) : new Redis({ ...target, ...settings });
  client.on('error', () => {
    // Refused or dropped connections are what connect() and the question report.
  });
  try {
    return await withinMs(options.timeoutMs, client.connect().then(() => question(client)));
  } finally {
    client.disconnect();
  }
}
