import type { KubernetesObject, V1Deployment, V1Job, V1Pod, V1StatefulSet } from '@kubernetes/client-node';
import type { ChatClusterStatus } from '../../common/chatcluster.js';
import type { Informer } from '../runtime/informer.js';

/** A ChatCluster as the informer holds it: spec not yet parsed. */
export type StoredChatCluster = KubernetesObject & { spec?: unknown; status?: ChatClusterStatus };

/** The caches the reconciler reads, one informer per kind it watches. */
export interface Caches {
  chatClusters: Informer<StoredChatCluster>;
  owned: {
    ConfigMap: Informer;
    Service: Informer;
    Deployment: Informer<V1Deployment>;
    StatefulSet: Informer<V1StatefulSet>;
    Job: Informer<V1Job>;
    PodDisruptionBudget: Informer;
    NetworkPolicy: Informer;
    Pod: Informer<V1Pod>;
  };
}

/** The cache of an owned kind, if the operator watches it. */
export function cacheFor(caches: Caches, kind: string | undefined): Informer | undefined {
  return kind !== undefined && kind in caches.owned ? caches.owned[kind as keyof Caches['owned']] : undefined;
}

/** Whether an object in the ChatCluster's namespace names it as owner. */
export function ownedBy(cluster: { metadata: { namespace: string; uid: string } }, object: KubernetesObject): boolean {
  return object.metadata?.namespace === cluster.metadata.namespace && (object.metadata.ownerReferences ?? []).some((ref) => ref.uid === cluster.metadata.uid);
}
