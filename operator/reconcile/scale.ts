import type { V1Deployment } from '@kubernetes/client-node';
import type { ChatCluster } from '../../common/chatcluster.js';
import { decideReplicas, type Recommendation } from '../autoscale/decide.js';
import { deletionCostChanges, POD_DELETION_COST } from '../autoscale/deletion-cost.js';
import type { ObservedLoad } from '../autoscale/observed-load.js';
import type { KubeWriter } from './kube.js';

export interface ScaleStep {
  cluster: ChatCluster;
  deployment: V1Deployment | undefined;
  load: ObservedLoad;
  now: number;
  /**
   * The autoscaler's memory for this ChatCluster (its stabilization window); undefined when
   * this operator has none yet (it just started or became the leader).
   */
  history: readonly Recommendation[] | undefined;
  writer: KubeWriter;
}

/**
 * How many node replicas to run: spec.replicas, or the autoscaler's decision. A change is
 * told in a Scaled event; before a scale-down, each pod's pod-deletion-cost is set to its
 * connections, so the Deployment deletes (and drains) the least-loaded pods.
 */
export async function scaleNodes(step: ScaleStep): Promise<{ replicas: number; history: Recommendation[] | undefined }> {
  const { cluster, deployment, load, writer } = step;
  // No memory while off: autoscaling switched on later starts its window at the count then.
  if (!cluster.spec.autoscaling.enabled) return { replicas: cluster.spec.replicas, history: undefined };
  const currentReplicas = deployment?.spec?.replicas ?? 0;
  const replicasNow = currentReplicas === 0 ? cluster.spec.autoscaling.minReplicas : currentReplicas;
  const decision = decideReplicas({
    autoscaling: cluster.spec.autoscaling,
    currentReplicas: replicasNow,
    connections: load.connections,
    cpu: load.cpu,
    silentNodes: load.silent,
    readyNodes: load.candidates.length,
    now: step.now,
    // Without memory, the window starts at today's count, as an HPA's does: an operator that
    // restarts or changes leader waits out the window before a scale-down, as it would have.
    history: step.history ?? [{ at: step.now, replicas: replicasNow }],
  });
  if (deployment !== undefined && decision.replicas !== currentReplicas) {
    await writer.event(cluster.metadata, 'Normal', 'Scaled', `${currentReplicas} → ${decision.replicas} nodes: ${decision.reason}`);
  }
  if (deployment !== undefined && decision.replicas < currentReplicas) {
    for (const change of deletionCostChanges(load.candidates)) {
      await writer.annotatePod(cluster.metadata.namespace, change.name, { [POD_DELETION_COST]: change.cost });
    }
  }
  return { replicas: decision.replicas, history: decision.history };
}
