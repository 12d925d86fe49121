import { Redis } from 'ioredis';
import { infoCount } from './redis-commands.js';

/** What a run under a client-memory bound did, and how many connections Redis closed to keep it. */
export interface BoundedRun<T> {
  result: T;
  clientsEvicted: number;
}

/**
 * Runs `run` with the bench's Redis holding its clients' memory (query and output buffers
 * together) under `limitBytes` (`maxmemory-clients`, Redis 7): past it, Redis closes the
 * connections using the most until it is under again, instead of growing until the kernel's
 * OOM killer ends it. The setting before is put back after, whether `run` succeeded or not,
 * and the count of connections Redis closed meanwhile is returned.
 */
export async function withClientMemoryBound<T>(redisUrl: string, limitBytes: number, run: () => Promise<T>): Promise<BoundedRun<T>> {
  const redis = new Redis(redisUrl, { lazyConnect: true, maxRetriesPerRequest: 1, connectionName: 'bench-client-memory-bound' });
  redis.on('error', () => {
    // Reported by the commands that fail; ioredis would otherwise print each reconnect's error.
  });
  await redis.connect();
  try {
    // Not this connection: it puts the setting back.
    await redis.call('CLIENT', 'NO-EVICT', 'on');
    const [, before] = (await redis.config('GET', 'maxmemory-clients')) as [string, string];
    const evictedBefore = await evictedClients(redis);
    await redis.config('SET', 'maxmemory-clients', String(limitBytes));
    let result: T;
    try {
      result = await run();
    } catch (error) {
      await restore(redis, before).catch((restoreError: unknown) => {
        throw new AggregateError([error, restoreError], `the bounded run failed, and maxmemory-clients could not be put back to ${before}`);
      });
      throw error;
    }
    await restore(redis, before);
    return { result, clientsEvicted: (await evictedClients(redis)) - evictedBefore };
  } finally {
    redis.disconnect();
  }
}

async function restore(redis: Redis, value: string): Promise<void> {
  await redis.config('SET', 'maxmemory-clients', value);
}

/** Connections Redis closed for client memory since it started (INFO stats). */
export async function evictedClients(redis: Redis): Promise<number> {
  // Redis 7 and later, as maxmemory-clients.
  return infoCount(await redis.info('stats'), 'evicted_clients');
}
