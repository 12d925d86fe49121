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

describeBusContract('RedisBus', async () => {
  // Keys of this file's own, so files running side by side on the shared Redis never meet.
  const bus = await connectRedisBus(testEnvironment().CHAT_REDIS_URL, { prefix: `test-${randomUUID()}:` });
  return { bus, close: () => bus.close() };
});
