/** The annotation the ReplicaSet controller reads: on scale-down it deletes the pods of lowest cost first. */
export const POD_DELETION_COST = 'controller.kubernetes.io/pod-deletion-cost';

import type { PodReport } from './observed-load.js';

/**
 * The pod-deletion-cost each pod should carry before a scale-down: its open connections,
 * so the least-loaded pods go (and drain) first and the fewest clients have to reconnect.
 * A pod that did not answer `/load` keeps the cost it has: not answering says nothing of
 * how many clients it holds (one never annotated stays at the implicit 0, so it goes first,
 * which for a node too wedged to answer is no loss). Only the pods whose annotation differs
 * are returned.
 */
export function deletionCostChanges(pods: readonly PodReport[]): { name: string; cost: string }[] {
  return pods
    .flatMap((pod) => (pod.load === undefined ? [] : [{ name: pod.name, cost: String(pod.load.connections), current: pod.cost }]))
    .filter((change) => change.cost !== change.current)
    .map(({ name, cost }) => ({ name, cost }));
}
