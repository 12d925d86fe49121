import type { KubernetesObject, V1ObjectMeta } from '@kubernetes/client-node';
import type { ChatCluster } from '../../common/chatcluster.js';
import { hashOf } from '../desired/meta.js';
import type { Informer } from '../runtime/informer.js';
import type { KubeWriter } from './kube.js';
import type { RecentWrites } from './recent-writes.js';

/** The hash of the desired state an object was last applied from. */
export const DESIRED_HASH = 'chatcluster.dev/desired-hash';

/**
 * What the operator's own last apply left on each object it keeps a cache of: the object's
 * generation, or, for a kind without one (ConfigMap, Service), its resourceVersion. A live
 * object whose mark differs was written since by someone else (`kubectl scale`, an edit),
 * and is applied again even though its hash annotation still matches. Kept per ChatCluster
 * (its reconcile key), in memory: a new operator process applies each object once.
 */
export class LastApplied {
  private readonly marks = new Map<string, Map<string, string>>();

  /** Whether `live` is as this operator's last apply of it left it. */
  matches(clusterKey: string, live: KubernetesObject): boolean {
    const mark = writeMark(live);
    return mark !== undefined && this.marks.get(clusterKey)?.get(objectKey(live)) === mark;
  }

  /** Remembers what the API server answered to this operator's apply of an object. */
  record(clusterKey: string, answer: KubernetesObject): void {
    const mark = writeMark(answer);
    if (mark === undefined) return;
    let marks = this.marks.get(clusterKey);
    if (marks === undefined) this.marks.set(clusterKey, (marks = new Map<string, string>()));
    marks.set(objectKey(answer), mark);
  }

  /** Drops a deleted ChatCluster's marks. */
  forget(clusterKey: string): void {
    this.marks.delete(clusterKey);
  }
}

/** What changes when anyone writes an object's spec: its generation, else its resourceVersion. */
export function writeMark(object: KubernetesObject): string | undefined {
  const { generation, resourceVersion } = object.metadata ?? {};
  if (generation !== undefined) return `generation ${String(generation)}`;
  return resourceVersion === undefined ? undefined : `resourceVersion ${resourceVersion}`;
}

function objectKey(object: KubernetesObject): string {
  return `${object.kind ?? ''}/${object.metadata?.name ?? ''}`;
}

export interface ApplyTarget {
  /** The object's kind's cache, or undefined for a kind without one (the ServiceMonitor). */
  cache: Informer | undefined;
  writer: KubeWriter;
  uncachedWrites: RecentWrites;
  lastApplied: LastApplied;
  /** The ChatCluster's reconcile key, `namespace/name`. */
  clusterKey: string;
}

/**
 * Applies an object unless the live one was applied from the same desired state and not
 * written since (no write at steady state): the live copy's hash annotation and the mark
 * of the operator's last write tell, or for a kind without a cache (the ServiceMonitor),
 * the record of recent writes.
 */
export async function applyIfChanged(cluster: ChatCluster, object: KubernetesObject, target: ApplyTarget): Promise<boolean> {
  const { cache, writer, uncachedWrites, lastApplied, clusterKey } = target;
  const hash = hashOf(object);
  const id = `${cluster.metadata.uid}/${object.kind ?? ''}/${object.metadata?.name ?? ''}`;
  if (cache === undefined) {
    if (uncachedWrites.isFresh(id, hash)) return false;
  } else {
    const live = cache.get(object.metadata?.namespace ?? '', object.metadata?.name ?? '');
    if (live?.metadata?.annotations?.[DESIRED_HASH] === hash && lastApplied.matches(clusterKey, live)) return false;
  }
  const metadata: V1ObjectMeta = Object.assign({}, object.metadata);
  metadata.annotations = { ...metadata.annotations, [DESIRED_HASH]: hash };
  const answer = await writer.apply({ ...object, metadata });
  if (cache === undefined) uncachedWrites.record(id, hash);
  else lastApplied.record(clusterKey, answer);
  return true;
}
