import { describe, expect, it } from 'vitest';
import { RecentIds } from './recent-ids.js';

describe('RecentIds', () => {
  it('tells a first sighting from a repeat', () => {
    const recent = new RecentIds(3);
    expect(recent.remember('a')).toBe(true);
    expect(recent.remember('a')).toBe(false);
    expect(recent.has('a')).toBe(true);
    expect(recent.has('b')).toBe(false);
  });

  it('forgets the oldest beyond its capacity, and only it', () => {
    const recent = new RecentIds(3);
    for (const id of ['a', 'b', 'c', 'd']) recent.remember(id);
    expect(recent.has('a')).toBe(false);
    expect(['b', 'c', 'd'].every((id) => recent.has(id))).toBe(true);
    // A repeat does not refresh an id's place: it is forgotten in its turn.
    expect(recent.remember('b')).toBe(false);
    recent.remember('e');
    expect(recent.has('b')).toBe(false);
    expect(recent.has('c')).toBe(true);
  });
});

describe('RecentIds at capacity', () => {
  it('keeps exactly the newest ids however many went through', () => {
    const recent = new RecentIds(1000);
    for (let i = 0; i < 10_500; i++) recent.remember(`id${i}`);
    expect(recent.has('id9499')).toBe(false);
    expect(recent.has('id9500')).toBe(true);
    expect(recent.has('id10499')).toBe(true);
    expect(recent.remember('id10000')).toBe(false);
  });
});
