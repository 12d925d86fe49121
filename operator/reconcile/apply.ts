import type { KubernetesObject, V1ObjectMeta } from '@kubernetes/client-node';
import type { ChatCluster } from '../../common/chatcluster.js';
import { hashOf } from '../desired/meta.js';
import type { Informer } from '../runtime/informer.js';
import type { KubeWriter } from './kube.js';
import type { RecentWrites } from './recent-writes.js';

/** The hash of the desired state an object was last applied from. */
export const DESIRED_HASH = 'chatcluster.dev/desired-hash';

/**
 * Applies an object unless the live one was applied from the same desired state (no write
 * at steady state): the live copy's hash annotation tells, or for a kind without a cache
 * (the ServiceMonitor), the record of recent writes.
 */
export async function applyIfChanged(
  cluster: ChatCluster,
  object: KubernetesObject,
  cache: Informer | undefined,
  writer: KubeWriter,
  uncachedWrites: RecentWrites,
): Promise<boolean> {
  const hash = hashOf(object);
  const id = `${cluster.metadata.uid}/${object.kind ?? ''}/${object.metadata?.name ?? ''}`;
  if (cache === undefined) {
    if (uncachedWrites.isFresh(id, hash)) return false;
  } else if (cache.get(object.metadata?.namespace ?? '', object.metadata?.name ?? '')?.metadata?.annotations?.[DESIRED_HASH] === hash) {
    return false;
  }
  const metadata: V1ObjectMeta = Object.assign({}, object.metadata);
  metadata.annotations = { ...metadata.annotations, [DESIRED_HASH]: hash };
  await writer.apply({ ...object, metadata });
  if (cache === undefined) uncachedWrites.record(id, hash);
  return true;
}
