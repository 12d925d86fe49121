import { describe, expect, it } from 'vitest';
import { deletionCostChanges } from './deletion-cost.js';

const serving = (connections: number) => ({ connections, draining: false });

describe('pod-deletion-cost before a scale-down', () => {
  it('is each pod\'s open connections, so the least-loaded pods are deleted first; a pod that did not answer keeps its cost', () => {
    expect(
      deletionCostChanges([
        { name: 'busy', load: serving(40), cost: undefined },
        { name: 'idle', load: serving(2), cost: undefined },
        { name: 'silent', load: undefined, cost: '900' },
        { name: 'silent-new', load: undefined, cost: undefined },
      ]),
    ).toEqual([
      { name: 'busy', cost: '40' },
      { name: 'idle', cost: '2' },
    ]);
  });

  it('writes nothing for a pod already annotated with its load', () => {
    expect(deletionCostChanges([{ name: 'a', load: serving(3), cost: '3' }, { name: 'b', load: serving(5), cost: '4' }])).toEqual([{ name: 'b', cost: '5' }]);
  });
});
