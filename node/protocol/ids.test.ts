import { decodeTime, ulid } from 'ulid';
import { describe, expect, it } from 'vitest';
import { isMessageId, messageIdGenerator, messageIdTime } from './ids.js';

describe('message ids', () => {
  it('read back the millisecond ulid put in them, as ulid reads it', () => {
    for (const ms of [0, 1, 1_000, Date.now(), 2 ** 48 - 1]) {
      const id = ulid(ms);
      expect(messageIdTime(id)).toBe(decodeTime(id));
    }
  });

  it('refuse a time read from anything but a message id', () => {
    for (const bad of ['', '01ARZ3NDEKTSV4RRFFQ69G5FA', '01ARZ3NDEKTSV4RRFFQ69G5FAVX', '01ARZ3NDEUTSV4RRFFQ69G5FAV', '81ARZ3NDEKTSV4RRFFQ69G5FAV']) {
      expect(() => messageIdTime(bad), bad).toThrow(RangeError);
    }
  });

  it('stay unique and in order across many milliseconds, with random parts spread over the alphabet', () => {
    const next = messageIdGenerator();
    const ids: string[] = [];
    for (let ms = 1_000; ms < 6_000; ms++) ids.push(next(ms));
    expect(ids.every(isMessageId)).toBe(true);
    expect([...ids].sort()).toEqual(ids);
    expect(new Set(ids).size).toBe(ids.length);
    // 5,000 ids × 16 random characters: each of the 32 characters about 2,500 times.
    const counts = new Map<string, number>();
    for (const id of ids) for (const char of id.slice(10)) counts.set(char, (counts.get(char) ?? 0) + 1);
    expect(counts.size).toBe(32);
    for (const count of counts.values()) expect(Math.abs(count - 2_500)).toBeLessThan(400);
  });
});
