import { describe, expect, it } from 'vitest';
import { decideReplicas, type NodesCpu, type Recommendation } from './decide.js';

const autoscaling = { enabled: true, minReplicas: 2, maxReplicas: 20, targetConnectionsPerNode: 5000, targetCPUUtilization: 70, scaleDownStabilizationSeconds: 300 };

function decide(connections: number, currentReplicas: number, now = 0, history: Recommendation[] = [], cpu?: NodesCpu, silentNodes?: number) {
  return decideReplicas({ autoscaling, connections, currentReplicas, now, history, cpu, readyNodes: currentReplicas, ...(silentNodes === undefined ? {} : { silentNodes }) });
}

describe('the autoscaling decision', () => {
  it('asks for ceil(connections / target) nodes, within [min, max]', () => {
    expect(decide(0, 2).replicas).toBe(2);
    expect(decide(10_000, 2).replicas).toBe(2);
    expect(decide(10_001, 2).replicas).toBe(3);
    expect(decide(42_000, 2).replicas).toBe(9);
    expect(decide(1_000_000, 2).replicas).toBe(20);
  });

  it('scales up at once', () => {
    const decision = decide(30_000, 3);
    expect(decision.replicas).toBe(6);
    expect(decision.reason).toMatch(/^scale up/);
  });

  it('follows CPU when it asks for more than connections do', () => {
    const busy = decide(5_000, 4, 0, [], { utilization: 140, nodes: 4 });
    expect(busy.replicas).toBe(8);
    expect(busy.reason).toBe('scale up: CPU 140% on 4 nodes, target 70%');
    expect(decide(30_000, 4, 0, [], { utilization: 10, nodes: 4 }).replicas).toBe(6);
  });

  it('asks for no change while the CPU over the current replicas is within 10 % of the target, as an HPA does', () => {
    // 2 × 72 % against 70 %: ⌈144 ÷ 70⌉ would be 3, but the CPU is 3 % over its target.
    expect(decide(0, 2, 0, [], { utilization: 72, nodes: 2 })).toMatchObject({
      replicas: 2,
      reason: 'steady: CPU 72% on 2 nodes, target 70% (72% over 2 replicas, within 10% of the target)',
    });
    expect(decide(0, 2, 0, [], { utilization: 76, nodes: 2 }).replicas).toBe(2);
    expect(decide(0, 2, 0, [], { utilization: 78, nodes: 2 }).replicas).toBe(3);
    // Twenty replicas at 75 %: ⌈21.4⌉ = 22 without the tolerance.
    expect(decide(0, 20, 0, [], { utilization: 75, nodes: 20 }).replicas).toBe(20);
    // The spread is over the current replicas, one not reporting taken as idle: 2 of 3 at 110 % is
    // 73 % over the three, within the band (over the two reporting, 157 %, it would ask for 4).
    expect(decide(0, 3, 0, [], { utilization: 110, nodes: 2 })).toMatchObject({
      replicas: 3,
      reason: 'steady: CPU 110% on 2 nodes, target 70% (73% over 3 replicas, within 10% of the target)',
    });
    // Below the band the count still falls (after the window): 4 × 40 % against 70 % asks for 3.
    expect(decide(0, 4, 0, [], { utilization: 40, nodes: 4 }).recommended).toBe(3);
  });

  it('holds when the nodes that report are over the target and only those not reporting, taken as idle, bring the CPU under it', () => {
    // 2 of 4 at 75 %: ⌈150 ÷ 70⌉ = 3 would remove a replica on CPU nobody measured.
    expect(decide(0, 4, 0, [], { utilization: 75, nodes: 2 })).toMatchObject({
      recommended: 4,
      reason: 'steady: CPU 75% on 2 nodes, target 70% (38% over 4 replicas, those not reporting taken as idle: holding)',
    });
    // Reporting nodes under the target still let it fall: 2 of 4 at 30 % ask for 2 (⌈60 ÷ 70⌉ = 1, min 2).
    expect(decide(0, 4, 0, [], { utilization: 30, nodes: 2 }).recommended).toBe(2);
  });

  it('holds when no ready node is there to read (all starting, or not ready while a dependency is down), as an HPA without metrics', () => {
    // Nine nodes, none ready for six minutes (longer than the 300 s window).
    let history: Recommendation[] = [{ at: 0, replicas: 9 }];
    for (let at = 15_000; at <= 360_000; at += 15_000) {
      const held = decideReplicas({ autoscaling, connections: 0, currentReplicas: 9, now: at, history, readyNodes: 0 });
      expect(held).toMatchObject({ replicas: 9, recommended: 9, reason: 'holding 9: no ready node to read the load from' });
      history = held.history;
    }
    // Back, with few clients reconnected yet: the window still holds the nine, so no fall at once.
    const back = decideReplicas({ autoscaling, connections: 5, currentReplicas: 9, now: 375_000, history, readyNodes: 9 });
    expect(back).toMatchObject({ replicas: 9, recommended: 2 });
    // A whole window later, with the load still low, it falls.
    expect(decideReplicas({ autoscaling, connections: 5, currentReplicas: 9, now: 675_000, history: back.history, readyNodes: 9 }).replicas).toBe(2);
    // The hold keeps the count within [min, max]: maxReplicas lowered below it applies.
    expect(decideReplicas({ autoscaling: { ...autoscaling, maxReplicas: 5 }, connections: 0, currentReplicas: 8, now: 0, history: [], readyNodes: 0 }).reason).toBe(
      'holding 5: no ready node to read the load from',
    );
  });

  it('counts a replica that is not ready (Pending, starting) as idle, so one that cannot be scheduled does not raise the count again', () => {
    // Three ready nodes at 80 % of a 70 % target ask for a fourth.
    expect(decide(0, 3, 0, [], { utilization: 80, nodes: 3 }).replicas).toBe(4);
    // The fourth stays Pending: the three still ask for four, not ⌈4 × 80 ÷ 70⌉ = 5, and so on to maxReplicas.
    expect(decide(0, 4, 15_000, [], { utilization: 80, nodes: 3 }).replicas).toBe(4);
  });

  it('scales down only after the stabilization window has seen nothing higher', () => {
    let history: Recommendation[] = [];
    let replicas = 8;
    const load = (at: number, connections: number) => {
      const decision = decide(connections, replicas, at * 1000, history);
      history = decision.history;
      replicas = decision.replicas;
      return decision;
    };
    expect(load(0, 40_000).replicas).toBe(8);
    expect(load(60, 10_000).replicas).toBe(8); // the 8 of t=0 is still in the window
    expect(load(200, 10_000).reason).toMatch(/^holding 8/);
    expect(load(301, 10_000).replicas).toBe(2); // t=0 left the window; all since called for 2
    expect(load(320, 20_000).replicas).toBe(4);
  });

  it('does not scale down below a recommendation still inside the window', () => {
    const history = [{ at: 0, replicas: 5 }, { at: 100_000, replicas: 3 }];
    expect(decide(5_000, 6, 200_000, history).replicas).toBe(5);
  });

  it('does not read ready nodes that did not answer /load as idle when scaling down', () => {
    // Ten ready nodes, none answering (too busy, or the operator cut off from them): hold, not 10 → 2.
    const allSilent = decide(0, 10, 0, [], undefined, 10);
    expect(allSilent.replicas).toBe(10);
    expect(allSilent.reason).toBe('steady: 0 connections at 5000 per node; 10 ready nodes did not answer /load and count at the target');
    // Two silent of six, the four that answer nearly idle: the silent two count at the target, so it goes to 3, not 2.
    expect(decide(400, 6, 0, [], undefined, 2).replicas).toBe(3);
    // The CPU signal counts them at its target as well: four at 10 % and two at 70 % make 180 % of one node's target, 3 nodes.
    expect(decide(0, 6, 0, [], { utilization: 10, nodes: 4 }, 2).replicas).toBe(3);
    expect(decide(0, 6, 0, [], { utilization: 60, nodes: 4 }, 2)).toMatchObject({ replicas: 6 });
    // Counted at the target they only soften a scale-down: four answering nodes that ask for 5 of 6 hold 6, not 7.
    expect(decide(24_000, 6, 0, [], undefined, 2).replicas).toBe(6);
    expect(decide(0, 6, 0, [], { utilization: 80, nodes: 4 }, 2).replicas).toBe(6);
  });

  it('counts ready nodes that did not answer as idle when scaling up', () => {
    const decision = decide(0, 3, 0, [], { utilization: 140, nodes: 2 }, 1);
    expect(decision.replicas).toBe(4);
    expect(decision.reason).toBe('scale up: CPU 140% on 2 nodes, target 70%; 1 ready nodes did not answer /load and count as idle');
  });
});
