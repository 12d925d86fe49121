import { Redis } from 'ioredis';

/** What a run under a client-memory bound did, and how many connections Redis closed to keep it. */
export interface BoundedRun<T> {
  result: T;
  clientsEvicted: number;
}

/**
 * Runs `run` with the bench's Redis holding its clients' memory (query and output buffers
 * together) under `limitBytes` (`maxmemory-clients`, Redis 7): past it, Redis closes the
 * connections using the most until it is under again, instead of growing until the kernel's
 * OOM killer ends it. The setting before is put back after, and the count of connections it
 * closed meanwhile is returned.
 */
export async function withClientMemoryBound<T>(redisUrl: string, limitBytes: number, run: () => Promise<T>): Promise<BoundedRun<T>> {
  const redis = new Redis(redisUrl, { lazyConnect: true, maxRetriesPerRequest: 1, connectionName: 'bench-client-memory-bound' });
  await redis.connect();
  try {
    // This connection must outlive the run to put the setting back.
    await redis.call('CLIENT', 'NO-EVICT', 'on');
    const [, before] = (await redis.config('GET', 'maxmemory-clients')) as [string, string];
    const evictedBefore = await evictedClients(redis);
    await redis.config('SET', 'maxmemory-clients', String(limitBytes));
    try {
      const result = await run();
      return { result, clientsEvicted: (await evictedClients(redis)) - evictedBefore };
    } finally {
      await redis.config('SET', 'maxmemory-clients', before);
    }
  } finally {
    redis.disconnect();
  }
}

async function evictedClients(redis: Redis): Promise<number> {
  const match = /^evicted_clients:(\d+)/m.exec(await redis.info('stats'));
  if (match?.[1] === undefined) throw new Error('INFO stats has no evicted_clients (maxmemory-clients needs Redis 7)');
  return Number(match[1]);
}
