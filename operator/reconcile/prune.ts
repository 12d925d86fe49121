import type { KubernetesObject } from '@kubernetes/client-node';
import type { ChatCluster } from '../../common/chatcluster.js';
import { ownedBy, type Caches } from './caches.js';

/**
 * The owned objects the spec no longer calls for: schema Jobs of earlier images once the
 * current one succeeded, and a dependency's StatefulSet, Service and NetworkPolicy once it
 * was switched from managed to external. Node objects are never pruned here.
 */
export function staleObjects(
  cluster: ChatCluster,
  owned: Caches['owned'],
  wanted: readonly KubernetesObject[],
  schema: { jobName: string; ready: boolean },
): KubernetesObject[] {
  const mine = (object: KubernetesObject): boolean => ownedBy(cluster, object);
  const wantedKeys = new Set(wanted.map((object) => `${object.kind ?? ''}/${object.metadata?.name ?? ''}`));
  return [
    ...(schema.ready ? owned.Job.list().filter((job) => mine(job) && job.metadata?.name !== schema.jobName) : []),
    ...owned.StatefulSet.list().filter((set) => mine(set) && !wantedKeys.has(`StatefulSet/${set.metadata?.name ?? ''}`)),
    ...[...owned.Service.list(), ...owned.NetworkPolicy.list()].filter(
      (object) =>
        mine(object) &&
        object.metadata?.labels?.['app.kubernetes.io/component'] !== 'node' &&
        !wantedKeys.has(`${object.kind ?? ''}/${object.metadata?.name ?? ''}`),
    ),
  ];
}
