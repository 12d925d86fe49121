import { randomUUID } from 'node:crypto';
import { MemoryBus } from '../../node/bus/memory/bus.js';
import { connectRedisBus } from '../../node/bus/redis/bus.js';
import { testEnvironment } from '../support/env.js';
import { describeBusContract } from './bus/index.js';

// Every Bus, one contract: the embedded node's must behave exactly like the Redis one.
describeBusContract('MemoryBus', () => {
  const bus = new MemoryBus();
  return Promise.resolve({ bus, close: () => bus.close() });
});

// The Redis bus in each mode: one server, behind Sentinel, on a Redis Cluster.
for (const [mode, url] of [
  ['standalone', () => testEnvironment().CHAT_REDIS_URL],
  ['Sentinel', () => testEnvironment().CHAT_REDIS_SENTINEL_URL],
  ['Cluster', () => testEnvironment().CHAT_REDIS_CLUSTER_URL],
] as const) {
  describeBusContract(`RedisBus (${mode})`, async () => {
    // Keys of this file's own, so files running side by side on the shared Redis never meet.
    const bus = await connectRedisBus(url(), { prefix: `test-${randomUUID()}:` });
    return { bus, close: () => bus.close() };
  });
}
