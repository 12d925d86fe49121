import type { V1Deployment, V1Pod } from '@kubernetes/client-node';

/** A pod still terminating this long after its deletion deadline is stuck (its kubelet gone, say): not waited for. */
export const STUCK_TERMINATING_MS = 60_000;

/**
 * Whether the node Deployment's rollout should be held (`spec.paused`) for now, so nodes
 * drain one at a time. The Deployment controller does not count terminating pods against
 * maxSurge: once a new pod is ready it deletes the next old pod while the previous one is
 * still draining its clients. Held while a node pod of this cluster is terminating and old
 * pods are still to be replaced; released as soon as it is gone. Scaling is not affected
 * (a paused Deployment still scales), and a stuck pod does not hold the rollout forever.
 */
export function holdRollout(deployment: V1Deployment | undefined, nodePods: readonly V1Pod[], now: number): boolean {
  if (deployment === undefined) return false;
  const active = deployment.status?.replicas ?? 0;
  const updated = deployment.status?.updatedReplicas ?? 0;
  const oldPodsLeft = active > updated;
  if (!oldPodsLeft) return false;
  return nodePods.some((pod) => {
    const deadline = pod.metadata?.deletionTimestamp;
    return deadline !== undefined && new Date(deadline).getTime() + STUCK_TERMINATING_MS > now;
  });
}
