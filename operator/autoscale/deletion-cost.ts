/** The annotation the ReplicaSet controller reads: on scale-down it deletes the pods of lowest cost first. */
export const POD_DELETION_COST = 'controller.kubernetes.io/pod-deletion-cost';

/** One node pod and its open connections (its `/load`), undefined when it did not answer. */
export interface PodLoad {
  name: string;
  connections: number | undefined;
  /** The pod's current pod-deletion-cost annotation, if any. */
  cost: string | undefined;
}

/**
 * The pod-deletion-cost each pod should carry before a scale-down: its open connections,
 * so the least-loaded pods go (and drain) first and the fewest clients have to reconnect.
 * A pod that did not answer `/load` costs nothing: it goes before any that serves.
 * Only the pods whose annotation differs are returned.
 */
export function deletionCostChanges(loads: readonly PodLoad[]): { name: string; cost: string }[] {
  return loads
    .map((load) => ({ name: load.name, cost: String(load.connections ?? 0), current: load.cost }))
    .filter((change) => change.cost !== change.current)
    .map(({ name, cost }) => ({ name, cost }));
}
