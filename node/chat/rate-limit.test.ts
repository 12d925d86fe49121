import { describe, expect, it } from 'vitest';
import { AbuseMeter, PerUserLimit, TokenBucket } from './rate-limit.js';

describe('the per-user token bucket', () => {
  it('allows a burst, then refuses until tokens refill at the configured rate', () => {
    const bucket = new TokenBucket(20, 20, 0);
    const burst = Array.from({ length: 25 }, () => bucket.take(0));
    expect(burst.filter(Boolean)).toHaveLength(20);
    expect(bucket.take(0)).toBe(false);
    expect(bucket.take(49)).toBe(false); // 0.98 of a token after 49 ms at 20/s
    expect(bucket.take(50)).toBe(true); // one token after 50 ms
    expect(bucket.take(50)).toBe(false);
  });

  it('sustains exactly the rate over time and never stores more than the burst', () => {
    const bucket = new TokenBucket(10, 5, 0);
    let allowed = 0;
    for (let now = 0; now <= 10_000; now += 10) if (bucket.take(now)) allowed += 1;
    expect(allowed).toBe(5 + 100); // the initial burst plus 10/s for 10 s
    const rested = new TokenBucket(10, 5, 0);
    for (let i = 0; i < 5; i++) rested.take(0);
    const afterLongIdle = Array.from({ length: 10 }, () => rested.take(60_000));
    expect(afterLongIdle.filter(Boolean)).toHaveLength(5);
  });
});

describe('the abuse meter', () => {
  it('trips only when offences exceed the limit within the window', () => {
    const meter = new AbuseMeter(3, 1000);
    expect([meter.offend(0), meter.offend(100), meter.offend(200)]).toEqual([false, false, false]);
    expect(meter.offend(300)).toBe(true);
    const spread = new AbuseMeter(3, 1000);
    expect([0, 600, 1200, 1800, 2400].map((t) => spread.offend(t))).toEqual([false, false, false, false, false]);
  });
});

describe('the per-user limit', () => {
  it('keeps a bucket for each user: one user spending theirs leaves another’s whole', () => {
    const limit = new PerUserLimit(1, 3);
    expect(Array.from({ length: 5 }, () => limit.take('alice', 0)).filter(Boolean)).toHaveLength(3);
    expect(Array.from({ length: 5 }, () => limit.take('bob', 0)).filter(Boolean)).toHaveLength(3);
    expect(limit.take('alice', 999)).toBe(false);
    expect(limit.take('alice', 1_000)).toBe(true);
  });

  it('gives a user back a full bucket after a long idle, as a new one would be', () => {
    const limit = new PerUserLimit(1, 3);
    for (let i = 0; i < 3; i++) limit.take('alice', 0);
    expect(Array.from({ length: 5 }, () => limit.take('alice', 120_000)).filter(Boolean)).toHaveLength(3);
  });

  it('drops the buckets of users idle long enough to have refilled, so it does not grow with every user ever seen', () => {
    const limit = new PerUserLimit(1, 3);
    for (let user = 0; user < 100; user++) limit.take(`user-${String(user)}`, 60_000);
    expect(limit.size).toBe(100);
    // The next sweep, a minute on: each of them has refilled, and only the one taking now is kept.
    limit.take('alice', 120_000);
    expect(limit.size).toBe(1);
  });
});
