import { describe, expect, it } from 'vitest';
import { groupFanOut, reconnectDelays, routeToNodes } from './routing.js';

describe('direct message routing', () => {
  it('sends one entry per node however many sockets of the recipients it hosts', () => {
    const plan = routeToNodes([
      { user: 'bob', node: 'n1', session: 's1' },
      { user: 'bob', node: 'n1', session: 's2' },
      { user: 'bob', node: 'n2', session: 's3' },
      { user: 'alice', node: 'n2', session: 's4' },
      { user: 'alice', node: 'n3', session: 's5' },
    ]);
    expect(Object.fromEntries(plan)).toEqual({ n1: ['bob'], n2: ['alice', 'bob'], n3: ['alice'] });
  });

  it('plans nothing for users with no socket', () => {
    expect(routeToNodes([]).size).toBe(0);
  });
});

describe('group fan-out', () => {
  it('reaches each hosting node once and delivers locally when this node hosts a member', () => {
    expect(groupFanOut(['n2', 'n1', 'n3', 'n2'], 'n1')).toEqual({ local: true, remote: ['n2', 'n3'] });
    expect(groupFanOut(['n2', 'n3'], 'n1')).toEqual({ local: false, remote: ['n2', 'n3'] });
    expect(groupFanOut([], 'n1')).toEqual({ local: false, remote: [] });
  });
});

describe('drain reconnect delays', () => {
  it('spreads sockets evenly across the window, all within it', () => {
    const delays = reconnectDelays(4, 8000);
    expect(delays).toEqual([1000, 3000, 5000, 7000]);
    expect(reconnectDelays(0, 8000)).toEqual([]);
    const many = reconnectDelays(1000, 10_000);
    expect(Math.min(...many)).toBeGreaterThanOrEqual(0);
    expect(Math.max(...many)).toBeLessThanOrEqual(10_000);
    expect(new Set(many).size).toBeGreaterThan(900);
  });
});
