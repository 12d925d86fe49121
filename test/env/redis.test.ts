import { Redis } from 'ioredis';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { testEnvironment } from '../support/env.js';

describe('the test environment’s Redis', () => {
  const env = testEnvironment();
  let redis: Redis;

  beforeAll(() => {
    redis = new Redis(env.CHAT_REDIS_URL, { maxRetriesPerRequest: 1 });
  });
  afterAll(() => {
    redis.disconnect();
  });

  it('is a real redis-server on loopback that answers INFO server', async () => {
    expect(env.CHAT_REDIS_URL).toMatch(/^redis:\/\/127\.0\.0\.1:\d+$/);
    const info = await redis.info('server');
    expect(info).toMatch(/^redis_version:\d+\.\d+\.\d+/m);
    expect(info).toMatch(/^tcp_port:\d+/m);
    expect(info).toContain(`tcp_port:${new URL(env.CHAT_REDIS_URL).port}`);
  });

  it('stores and streams data like the chat bus will', async () => {
    const stream = `testenv:${Date.now()}`;
    const id = await redis.xadd(stream, '*', 'text', 'hello');
    const entries = await redis.xrange(stream, '-', '+');
    expect(entries).toEqual([[id, ['text', 'hello']]]);
    await redis.del(stream);
  });
});
