import { createConnection } from 'node:net';
import { setTimeout as sleep } from 'node:timers/promises';
import { Redis } from 'ioredis';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { provisionRedis, startRedis } from '../../dev/env/redis.js';
import { ownServers, type OwnServers } from '../support/fault-servers.js';
import { evictedClients, withClientMemoryBound } from './redis-client-memory.js';

/** The bench's bound on Redis's client memory, on a Redis of this test's own (the shared one serves other tests, whose connections it would close). */
describe('the bench’s bound on Redis’s client memory', () => {
  let servers: OwnServers;
  let url: string;
  let redis: Redis;
  const boundNow = async (): Promise<string | undefined> => (await redis.config('GET', 'maxmemory-clients'))[1];

  beforeAll(async () => {
    servers = ownServers('client-memory');
    url = await startRedis(await provisionRedis(), servers.launcher);
    redis = new Redis(url, { maxRetriesPerRequest: 1 });
    // About 2 MB of stream: one XRANGE of it is a reply that size.
    const pipeline = redis.pipeline();
    for (let i = 0; i < 2_000; i++) pipeline.xadd('stream', '*', 'field', 'x'.repeat(1_000));
    await pipeline.exec();
  });
  afterAll(async () => {
    redis.disconnect();
    await servers.stop();
  });

  it('closes a connection whose replies pile up past the bound, counts it, and puts the setting back', async () => {
    const { result, clientsEvicted } = await withClientMemoryBound(url, 20 * 1024 * 1024, async () => {
      expect(await boundNow()).toBe(String(20 * 1024 * 1024));
      // A client that never reads: its 200 replies of 2 MB wait in Redis's output buffer.
      const reader = createConnection(Number(new URL(url).port), '127.0.0.1');
      reader.pause();
      reader.on('error', () => undefined);
      for (let i = 0; i < 200; i++) reader.write('XRANGE stream - +\r\n');
      for (let waited = 0; waited < 10_000 && (await evictedClients(redis)) === 0; waited += 100) await sleep(100);
      reader.destroy();
      return 'ran';
    });
    expect(result).toBe('ran');
    expect(clientsEvicted).toBe(1);
    expect(await boundNow()).toBe('0');
  });

  it('puts the setting back when the run fails, and passes its error on', async () => {
    await expect(
      withClientMemoryBound(url, 64 * 1024 * 1024, async () => {
        expect(await boundNow()).toBe(String(64 * 1024 * 1024));
        throw new Error('the storm failed');
      }),
    ).rejects.toThrow('the storm failed');
    expect(await boundNow()).toBe('0');
  });
});
