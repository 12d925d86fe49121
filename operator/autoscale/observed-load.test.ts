import { describe, expect, it } from 'vitest';
import { observeLoad } from './observed-load.js';

describe('observeLoad', () => {
  it('sums connections and averages CPU over the nodes that stay', () => {
    const observed = observeLoad([
      { name: 'a', load: { connections: 10, draining: false, cpuUtilization: 80 }, cost: undefined },
      { name: 'b', load: { connections: 30, draining: false, cpuUtilization: 40 }, cost: undefined },
      { name: 'silent', load: undefined, cost: undefined },
    ]);
    expect(observed).toMatchObject({ connections: 40, cpu: { utilization: 60, nodes: 2 }, silent: 1 });
    expect(observed.candidates.map((pod) => pod.name)).toEqual(['a', 'b', 'silent']);
  });

  it('leaves a draining node out: its clients are moving to the others, and it is not chosen again', () => {
    const observed = observeLoad([
      { name: 'staying', load: { connections: 10, draining: false, cpuUtilization: 30 }, cost: undefined },
      { name: 'leaving', load: { connections: 500, draining: true, cpuUtilization: 190 }, cost: '500' },
    ]);
    expect(observed).toMatchObject({ openConnections: 510, connections: 10, cpu: { utilization: 30, nodes: 1 } });
    expect(observed.candidates.map((pod) => pod.name)).toEqual(['staying']);
  });

  it('has no CPU signal when no node reports one (no CPU request)', () => {
    expect(observeLoad([{ name: 'a', load: { connections: 1, draining: false }, cost: undefined }]).cpu).toBeUndefined();
  });
});
