import { describe, expect, it } from 'vitest';
import { RecentWrites } from './recent-writes.js';

describe('recent writes to objects the operator cannot watch', () => {
  it('skip the same write until the recheck time has passed, and never a different one', () => {
    let now = 0;
    const writes = new RecentWrites(600_000, () => now);
    expect(writes.isFresh('uid/ServiceMonitor/a', 'h1')).toBe(false);
    writes.record('uid/ServiceMonitor/a', 'h1');
    now = 599_999;
    expect(writes.isFresh('uid/ServiceMonitor/a', 'h1')).toBe(true);
    expect(writes.isFresh('uid/ServiceMonitor/a', 'h2')).toBe(false);
    now = 600_000;
    expect(writes.isFresh('uid/ServiceMonitor/a', 'h1')).toBe(false);
  });
});
