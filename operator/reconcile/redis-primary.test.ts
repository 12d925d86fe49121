import { createServer } from 'node:net';
import { describe, expect, it } from 'vitest';
import { askSentinels, mostCommon, primaryPodOf } from './redis-primary.js';

describe('the primary the Sentinels name', () => {
  it('is the pod their host name names, or the host as it is', () => {
    expect(primaryPodOf('demo-redis-2.demo-redis.ns.svc', 'demo-redis')).toBe('demo-redis-2');
    expect(primaryPodOf('10.244.0.7', 'demo-redis')).toBe('10.244.0.7');
    expect(primaryPodOf('other-redis-0.other-redis.ns.svc', 'demo-redis')).toBe('other-redis-0.other-redis.ns.svc');
  });

  it('is what most of those that answered say', () => {
    expect(mostCommon(['a', 'b', 'b'])).toBe('b');
    expect(mostCommon([null, 'a', null])).toBeNull();
    expect(mostCommon(['a', 'b'])).toBe('a');
    expect(mostCommon<string>([])).toBeUndefined();
  });

  it('is unknown, quickly, when no Sentinel answers (nothing listening, a name that does not resolve, a server that never replies)', async () => {
    const silent = createServer(() => undefined);
    await new Promise<void>((resolve) => silent.listen(0, '127.0.0.1', resolve));
    const address = silent.address();
    const port = typeof address === 'object' && address !== null ? address.port : 0;
    const started = Date.now();
    try {
      expect(await askSentinels(['127.0.0.1:1', 'no-such-host.invalid:26379', `127.0.0.1:${String(port)}`], 'chat')).toEqual({ reached: false });
      expect(Date.now() - started).toBeLessThan(3000);
    } finally {
      silent.close();
    }
  });
});
