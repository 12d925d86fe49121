import { describe, expect, it } from 'vitest';
import { LoadBalancer } from '../../dev/env/load-balancer.js';

describe('the local load balancer’s choice', () => {
  it('sends a new connection to the ready backend with the fewest open connections', () => {
    const backends = [
      { name: 'a', ready: true, active: 3 },
      { name: 'b', ready: true, active: 1 },
      { name: 'c', ready: false, active: 0 },
    ];
    expect(LoadBalancer.choose(backends)?.name).toBe('b');
  });

  it('has no choice when no backend is ready (the connection is refused)', () => {
    expect(LoadBalancer.choose([{ ready: false, active: 0 }])).toBeUndefined();
    expect(LoadBalancer.choose<{ ready: boolean; active: number }>([])).toBeUndefined();
  });
});
