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
  /** Ready nodes that did not answer `/load` (none when left out). */
  silentNodes?: number;
  /**
   * Ready nodes that are staying, answering or not. With none, nothing is known of the load
   * (every pod starting, or not ready while a dependency is down), and the count holds, as an
   * HPA does without metrics, rather than fall to minReplicas.
   */
  readyNodes: number;
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
 *
 * A ready node that did not answer `/load` counts as idle when scaling up and as loaded to
 * the target when scaling down, as an HPA counts a pod whose metrics are missing: a node too
 * busy to answer, or a network that keeps the operator from the nodes, must not read as no
 * load and drain the cluster to minReplicas. Counting them at the target only softens a
 * scale-down (to holding at most); it never turns one into a scale-up.
 */
export function decideReplicas(input: ScalingInput): ScalingDecision {
  const { autoscaling, currentReplicas, now } = input;
  const silentNodes = input.silentNodes ?? 0;
  const clamp = (replicas: number): number => Math.min(autoscaling.maxReplicas, Math.max(autoscaling.minReplicas, replicas));
  // The window's recommendations, this one's added.
  const windowStart = now - autoscaling.scaleDownStabilizationSeconds * 1000;
  const remember = (replicas: number): Recommendation[] => [...input.history.filter((entry) => entry.at > windowStart), { at: now, replicas }];
  if (input.readyNodes === 0) {
    // Recorded as a recommendation, so the first readings after the nodes are back (few
    // clients reconnected yet) cannot pass the window and fall at once.
    const held = clamp(currentReplicas);
    return { replicas: held, recommended: held, history: remember(held), reason: `holding ${held}: no ready node to read the load from` };
  }
  const asIdle = recommend(autoscaling, input.connections, input.cpu, currentReplicas);
  const scalingDown = asIdle.replicas < currentReplicas && silentNodes > 0;
  const atTarget = scalingDown
    ? recommend(
        autoscaling,
        input.connections + silentNodes * autoscaling.targetConnectionsPerNode,
        input.cpu === undefined ? undefined : withNodesAtTarget(input.cpu, silentNodes, autoscaling.targetCPUUtilization),
        currentReplicas,
      )
    : asIdle;
  const recommended = clamp(scalingDown ? Math.min(currentReplicas, atTarget.replicas) : asIdle.replicas);
  // The figures the nodes reported, and what the silent ones were taken for.
  const silence = scalingDown ? 'count at the target' : 'count as idle';
  const signal = silentNodes === 0 ? asIdle.signal : `${asIdle.signal}; ${silentNodes} ready nodes did not answer /load and ${silence}`;
  const history = remember(recommended);
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

/**
 * CPU within this fraction of its target over the current replicas asks for no change, as
 * with a HorizontalPodAutoscaler's default tolerance: 72 % against a 70 % target is a
 * reading's noise (a GC, a reconnect), not a call for another node.
 */
const CPU_TOLERANCE = 0.1;

/** The replicas each signal asks for, unclamped, and the words for the one that asks most. */
function recommend(autoscaling: ScalingInput['autoscaling'], connections: number, cpu: NodesCpu | undefined, currentReplicas: number): { replicas: number; signal: string } {
  const byConnections = Math.ceil(connections / autoscaling.targetConnectionsPerNode);
  if (cpu !== undefined) {
    const byCpu = replicasForCpu(cpu, autoscaling.targetCPUUtilization, currentReplicas);
    if (byCpu.replicas > byConnections) {
      const signal = `CPU ${cpu.utilization}% on ${cpu.nodes} nodes, target ${autoscaling.targetCPUUtilization}%`;
      return { replicas: byCpu.replicas, signal: byCpu.held === undefined ? signal : `${signal} (${byCpu.held})` };
    }
  }
  return { replicas: byConnections, signal: `${connections} connections at ${autoscaling.targetConnectionsPerNode} per node` };
}

/**
 * ⌈the CPU used ÷ the target⌉, a replica not reporting counted as idle; or the current count,
 * with why, as an HPA keeps it: while that CPU spread over the current replicas is within the
 * tolerance of the target, or when the reporting nodes are over the target and only the
 * replicas not reporting bring the spread under it (a scale-down on CPU nobody measured).
 */
function replicasForCpu(cpu: NodesCpu, target: number, currentReplicas: number): { replicas: number; held?: string } {
  const used = cpu.nodes * cpu.utilization;
  if (currentReplicas > 0) {
    const spread = Math.round(used / currentReplicas);
    if (Math.abs(used / (currentReplicas * target) - 1) <= CPU_TOLERANCE) {
      return { replicas: currentReplicas, held: `${spread}% over ${currentReplicas} replicas, within ${CPU_TOLERANCE * 100}% of the target` };
    }
    if (cpu.utilization > target && used < currentReplicas * target) {
      return { replicas: currentReplicas, held: `${spread}% over ${currentReplicas} replicas, those not reporting taken as idle: holding` };
    }
  }
  return { replicas: Math.ceil(used / target) };
}

/** The reporting nodes' CPU with `silent` more nodes counted at the target. */
function withNodesAtTarget(cpu: NodesCpu, silent: number, target: number): NodesCpu {
  const nodes = cpu.nodes + silent;
  return { utilization: Math.round((cpu.utilization * cpu.nodes + target * silent) / nodes), nodes };
}
