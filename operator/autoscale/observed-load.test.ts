import type { V1Pod } from '@kubernetes/client-node';
import { describe, expect, it } from 'vitest';
import { decideReplicas } from './decide.js';
import { observeLoad, podStanding, type PodReport } from './observed-load.js';

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

  it('leaves out a pod being deleted that has not begun to drain (its preStop pause): it is neither counted nor chosen, even silent', () => {
    const observed = observeLoad([
      { name: 'a', load: { connections: 4, draining: false, cpuUtilization: 50 }, cost: '4' },
      { name: 'b', load: { connections: 4, draining: false, cpuUtilization: 50 }, cost: '4' },
      { name: 'removed', load: { connections: 2, draining: false, cpuUtilization: 60 }, cost: '2', deleting: true },
      { name: 'removed-silent', load: undefined, cost: '0', deleting: true },
    ]);
    expect(observed).toMatchObject({ openConnections: 10, connections: 8, cpu: { utilization: 50, nodes: 2 }, silent: 0 });
    expect(observed.candidates.map((pod) => pod.name)).toEqual(['a', 'b']);
  });

  it('so the scale-down that removed a pod does not call it back while it waits to drain (seen in the kind e2e: 3 → 2 → 3)', () => {
    const autoscaling = { enabled: true, minReplicas: 2, maxReplicas: 3, targetConnectionsPerNode: 10, targetCPUUtilization: 70, scaleDownStabilizationSeconds: 30 };
    const staying = (name: string): PodReport => ({ name, load: { connections: 4, draining: false, cpuUtilization: 55 }, cost: '4' });
    const removed: PodReport = { name: 'removed', load: { connections: 2, draining: false, cpuUtilization: 55 }, cost: '2', deleting: true };
    const replicasAfter = (reports: PodReport[]): number => {
      const load = observeLoad(reports);
      return decideReplicas({ autoscaling, currentReplicas: 2, connections: load.connections, cpu: load.cpu, silentNodes: load.silent, readyNodes: load.candidates.length, now: 0, history: [] }).replicas;
    };
    expect(replicasAfter([staying('a'), staying('b'), removed])).toBe(2);
    // Counted as staying, its CPU would make three nodes' worth (165 % over a 70 % target).
    expect(replicasAfter([staying('a'), staying('b'), { ...removed, deleting: false }])).toBe(3);
  });

  it('counts the connections of a pod ready for less than the CPU window, not its CPU (mostly its start)', () => {
    const observed = observeLoad([
      { name: 'a', load: { connections: 4, draining: false, cpuUtilization: 40 }, cost: undefined },
      { name: 'surge', load: { connections: 1, draining: false, cpuUtilization: 90 }, cost: undefined, warming: true },
    ]);
    expect(observed).toMatchObject({ connections: 5, cpu: { utilization: 40, nodes: 1 }, silent: 0 });
    expect(observed.candidates.map((pod) => pod.name)).toEqual(['a', 'surge']);
  });

  it('has no CPU signal when no node reports one (no CPU request)', () => {
    expect(observeLoad([{ name: 'a', load: { connections: 1, draining: false }, cost: undefined }]).cpu).toBeUndefined();
  });
});

describe('podStanding', () => {
  const now = Date.parse('2026-12-07T12:00:00Z');
  const pod = (ready: { status: string; lastTransitionTime?: unknown } | undefined, deleting = false): V1Pod =>
    // The informer hands the time over as a string from a watch event, as a Date from a list.
    ({
      metadata: deleting ? { deletionTimestamp: new Date(now) } : {},
      status: { conditions: ready === undefined ? [] : [{ type: 'Ready', ...ready }] },
    }) as V1Pod;

  it('reads nothing of a pod that is not ready', () => {
    expect(podStanding(pod(undefined), now)).toBeUndefined();
    expect(podStanding(pod({ status: 'False', lastTransitionTime: new Date(now - 60_000) }), now)).toBeUndefined();
  });

  it('takes a pod ready for less than the CPU window as warming, whether its time is a Date or a string; a missing time as long ago', () => {
    expect(podStanding(pod({ status: 'True', lastTransitionTime: new Date(now - 10_000) }), now)).toEqual({ deleting: false, warming: true });
    expect(podStanding(pod({ status: 'True', lastTransitionTime: '2026-12-07T11:59:50Z' }), now)).toEqual({ deleting: false, warming: true });
    expect(podStanding(pod({ status: 'True', lastTransitionTime: '2026-12-07T11:59:00Z' }), now)).toEqual({ deleting: false, warming: false });
    expect(podStanding(pod({ status: 'True' }), now)).toEqual({ deleting: false, warming: false });
    expect(podStanding(pod({ status: 'True', lastTransitionTime: 'not a time' }), now)).toEqual({ deleting: false, warming: false });
  });

  it('says when the pod is being deleted', () => {
    expect(podStanding(pod({ status: 'True', lastTransitionTime: new Date(now - 60_000) }, true), now)).toEqual({ deleting: true, warming: false });
  });
});
