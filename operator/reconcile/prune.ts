import type { KubernetesObject, V1Service } from '@kubernetes/client-node';
import type { ChatCluster } from '../../common/chatcluster.js';
import { ownedBy, type Caches } from './caches.js';

/**
 * The owned objects the spec no longer calls for: schema Jobs of earlier images once the
 * current one succeeded (and reseal Jobs of older key versions), and a dependency's StatefulSet, Service, NetworkPolicy and
 * PodDisruptionBudget once it was switched from managed to external (or, for the budget,
 * a Redis to standalone). Node objects are never pruned here.
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
    ...(schema.ready ? owned.Job.list().filter((job) => mine(job) && job.metadata?.name !== schema.jobName && !wantedKeys.has(`Job/${job.metadata?.name ?? ''}`)) : []),
    ...owned.StatefulSet.list().filter((set) => mine(set) && !wantedKeys.has(`StatefulSet/${set.metadata?.name ?? ''}`)),
    ...[...owned.Service.list(), ...owned.NetworkPolicy.list(), ...owned.PodDisruptionBudget.list()].filter(
      (object) =>
        mine(object) &&
        object.metadata?.labels?.['app.kubernetes.io/component'] !== 'node' &&
        !wantedKeys.has(`${object.kind ?? ''}/${object.metadata?.name ?? ''}`),
    ),
  ];
}

/**
 * Live objects that must be deleted before the desired ones can be applied, because what
 * differs cannot be changed in place: a Service turning headless or back (its clusterIP),
 * as the managed Redis's Service does when its mode changes. The rest of such a change
 * (the StatefulSet's pods, replicas) rolls in place.
 */
export function objectsToReplace(owned: Caches['owned'], wanted: readonly KubernetesObject[]): KubernetesObject[] {
  const headless = (service: V1Service): boolean => service.spec?.clusterIP === 'None';
  return wanted.flatMap((object) => {
    if (object.kind !== 'Service') return [];
    const live = owned.Service.get(object.metadata?.namespace ?? '', object.metadata?.name ?? '');
    return live !== undefined && headless(live) !== headless(object) ? [live] : [];
  });
}
