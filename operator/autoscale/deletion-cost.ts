/** The annotation the ReplicaSet controller reads: on scale-down it deletes the pods of lowest cost first. */
export const POD_DELETION_COST = 'controller.kubernetes.io/pod-deletion-cost';

import type { PodReport } from './observed-load.js';

/**
 * The pod-deletion-cost each pod should carry before a scale-down: its open connections,
 * so the least-loaded pods go (and drain) first and the fewest clients have to reconnect.
 * A pod that did not answer `/load` costs nothing: it goes before any that serves.
 * Only the pods whose annotation differs are returned.
 */
export function deletionCostChanges(pods: readonly PodReport[]): { name: string; cost: string }[] {
  return pods
    .map((pod) => ({ name: pod.name, cost: String(pod.load?.connections ?? 0), current: pod.cost }))
    .filter((change) => change.cost !== change.current)
    .map(({ name, cost }) => ({ name, cost }));
}
