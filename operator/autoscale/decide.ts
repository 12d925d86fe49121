import type { ChatClusterSpec } from '../../common/chatcluster.js';

/** One replica count the load called for, and when. */
export interface Recommendation {
  at: number;
  replicas: number;
}

export interface ScalingInput {
  autoscaling: ChatClusterSpec['autoscaling'];
  currentReplicas: number;
  /** Open connections summed over the ready nodes (their `/load`). */
  connections: number;
  /** The ready nodes' CPU, when they report it (their container has a CPU request). */
  cpu?: NodesCpu | undefined;
  now: number;
  /** Earlier recommendations (the decision's own memory, kept per ChatCluster). */
  history: readonly Recommendation[];
}

/** Mean CPU use of the nodes that report it, as a percentage of their request, and how many they are. */
export interface NodesCpu {
  utilization: number;
  nodes: number;
}

export interface ScalingDecision {
  replicas: number;
  /** What the load alone calls for now, before stabilization. */
  recommended: number;
  history: Recommendation[];
  reason: string;
}

/**
 * How many chat nodes the load needs: open connections ÷ target per node, or the CPU
 * signal if it asks for more; clamped to [min, max]. Up at once (new sockets need room
 * now); down only to the highest recommendation of the stabilization window, so a dip
 * does not drain nodes that the next minute needs again.
 *
 * The CPU signal is the CPU the reporting nodes use, over the target: a replica that is not
 * ready (starting, or Pending for want of room) counts as idle, as a HorizontalPodAutoscaler
 * counts a pod without metrics when it scales up. Counted at the mean instead, a Pending
 * replica would raise the count each round without adding a core, up to maxReplicas.
 */
export function decideReplicas(input: ScalingInput): ScalingDecision {
  const { autoscaling, currentReplicas, connections, cpu, now } = input;
  const byConnections = Math.ceil(connections / autoscaling.targetConnectionsPerNode);
  const byCpu = cpu === undefined ? 0 : Math.ceil((cpu.nodes * cpu.utilization) / autoscaling.targetCPUUtilization);
  const clamp = (replicas: number): number => Math.min(autoscaling.maxReplicas, Math.max(autoscaling.minReplicas, replicas));
  const recommended = clamp(Math.max(byConnections, byCpu));
  const windowStart = now - autoscaling.scaleDownStabilizationSeconds * 1000;
  const history = [...input.history.filter((entry) => entry.at > windowStart), { at: now, replicas: recommended }];
  const signal =
    byCpu > byConnections
      ? `CPU ${cpu?.utilization ?? 0}% on ${cpu?.nodes ?? 0} nodes, target ${autoscaling.targetCPUUtilization}%`
      : `${connections} connections at ${autoscaling.targetConnectionsPerNode} per node`;
  if (recommended >= currentReplicas) {
    return { replicas: recommended, recommended, history, reason: recommended > currentReplicas ? `scale up: ${signal}` : `steady: ${signal}` };
  }
  const stabilized = Math.max(...history.map((entry) => entry.replicas));
  return {
    replicas: Math.min(currentReplicas, stabilized),
    recommended,
    history,
    reason: stabilized < currentReplicas ? `scale down: ${signal}` : `holding ${currentReplicas} for the ${autoscaling.scaleDownStabilizationSeconds}s stabilization window (${signal})`,
  };
}
