import { monotonicFactory, ulid } from 'ulid';
import { describe, expect, it } from 'vitest';
import { BUCKET_MS, bucketOfMessageId, bucketOfTime, bucketStart } from './buckets.js';

const DAY = 24 * 60 * 60 * 1000;

describe('message buckets', () => {
  it('are one day long', () => {
    expect(BUCKET_MS).toBe(DAY);
  });

  it('put the first and last millisecond of a day in the same bucket', () => {
    const day = Date.UTC(2025, 2, 14) / DAY;
    expect(bucketOfTime(day * DAY)).toBe(day);
    expect(bucketOfTime(day * DAY + DAY - 1)).toBe(day);
    expect(bucketOfTime(day * DAY + DAY)).toBe(day + 1);
  });

  it('start at the epoch', () => {
    expect(bucketOfTime(0)).toBe(0);
    expect(bucketOfTime(DAY - 1)).toBe(0);
  });

  it('reject times no message id can carry', () => {
    expect(() => bucketOfTime(-1)).toThrow(RangeError);
    expect(() => bucketOfTime(Number.NaN)).toThrow(RangeError);
  });

  it('take a message’s bucket from the time in its id', () => {
    const time = Date.UTC(2024, 11, 31, 23, 59, 59, 999);
    expect(bucketOfMessageId(ulid(time))).toBe(Math.floor(time / DAY));
    expect(bucketOfMessageId(ulid(time + 1))).toBe(Math.floor(time / DAY) + 1);
  });

  it('never decrease as message ids increase', () => {
    const next = monotonicFactory();
    const start = Date.UTC(2025, 0, 1);
    const ids = Array.from({ length: 200 }, (_, i) => next(start + i * 3_600_000 + (i % 7)));
    expect([...ids].sort()).toEqual(ids);
    const buckets = ids.map(bucketOfMessageId);
    expect([...buckets].sort((a, b) => a - b)).toEqual(buckets);
    // 200 hourly messages from midnight span days 0 to 8.
    expect(new Set(buckets).size).toBe(9);
  });

  it('start at a whole number of days', () => {
    expect(bucketStart(20_000)).toBe(20_000 * DAY);
    expect(bucketOfTime(bucketStart(20_000))).toBe(20_000);
  });

  it('reject what is not a message id', () => {
    expect(() => bucketOfMessageId('not-a-ulid')).toThrow();
  });
});
