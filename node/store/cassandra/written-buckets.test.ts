import { describe, expect, it } from 'vitest';
import { WrittenBuckets } from './written-buckets.js';

describe('WrittenBuckets', () => {
  it('knows a bucket once it is added, per conversation and bucket', () => {
    const written = new WrittenBuckets(10);
    expect(written.has('dm:a:b', 20_000)).toBe(false);
    written.add('dm:a:b', 20_000);
    expect(written.has('dm:a:b', 20_000)).toBe(true);
    expect(written.has('dm:a:b', 20_001)).toBe(false);
    expect(written.has('g:team', 20_000)).toBe(false);
  });

  it('forgets the oldest beyond its capacity, and only it', () => {
    const written = new WrittenBuckets(3);
    for (const conv of ['g:a', 'g:b', 'g:c', 'g:b', 'g:d']) written.add(conv, 1);
    expect(written.has('g:a', 1)).toBe(false);
    expect(['g:b', 'g:c', 'g:d'].every((conv) => written.has(conv, 1))).toBe(true);
  });
});
