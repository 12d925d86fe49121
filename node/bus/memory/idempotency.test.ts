import { describe, expect, it } from 'vitest';
import { MemoryBus } from './bus.js';
import { MAX_IDEMPOTENCY_KEYS } from './idempotency.js';

describe('the embedded idempotency keys', () => {
  it('are bounded: past the cap the oldest go first, the newest still answer', async () => {
    const bus = new MemoryBus();
    const ack = { id: '01J00000000000000000000000', ts: 1, conv: 'dm:a:b' };
    for (let i = 0; i < MAX_IDEMPOTENCY_KEYS + 10; i++) await bus.idempotency.complete('alice', `key-${i}`, ack);
    expect(bus.idempotency.size).toBe(MAX_IDEMPOTENCY_KEYS);
    expect(await bus.idempotency.claim('alice', `key-${MAX_IDEMPOTENCY_KEYS + 9}`, '01J00000000000000000000001')).toEqual(ack);
    expect(await bus.idempotency.claim('alice', 'key-0', '01J00000000000000000000001')).toBeUndefined();
  });
});
