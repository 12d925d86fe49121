import { describe, expect, it } from 'vitest';
import { RecentSet } from './recent-set.js';

describe('RecentSet', () => {
  it('tells a first sighting from a repeat', () => {
    const recent = new RecentSet(3);
    expect(recent.add('a')).toBe(true);
    expect(recent.add('a')).toBe(false);
    expect(recent.has('a')).toBe(true);
    expect(recent.has('b')).toBe(false);
  });

  it('forgets the oldest beyond its capacity, and only it', () => {
    const recent = new RecentSet(3);
    for (const id of ['a', 'b', 'c', 'd']) recent.add(id);
    expect(recent.has('a')).toBe(false);
    expect(['b', 'c', 'd'].every((id) => recent.has(id))).toBe(true);
    // A repeat does not refresh an id's place: it is forgotten in its turn.
    expect(recent.add('b')).toBe(false);
    recent.add('e');
    expect(recent.has('b')).toBe(false);
    expect(recent.has('c')).toBe(true);
  });
});

describe('RecentSet at capacity', () => {
  it('keeps exactly the newest ids however many went through', () => {
    const recent = new RecentSet(1000);
    for (let i = 0; i < 10_500; i++) recent.add(`id${i}`);
    expect(recent.has('id9499')).toBe(false);
    expect(recent.has('id9500')).toBe(true);
    expect(recent.has('id10499')).toBe(true);
    expect(recent.add('id10000')).toBe(false);
  });
});
