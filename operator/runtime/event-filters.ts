import type { KubernetesObject } from '@kubernetes/client-node';
import { keyOf } from './informer.js';

/**
 * Like controller-runtime's GenerationChangedPredicate: true for a new object, a deleted
 * one, one being deleted, or a new generation. The operator's own status writes (and label
 * edits) bump no generation and need no reconcile.
 */
export function generationChanged(): (type: string, object: KubernetesObject) => boolean {
  const seenGenerations = new Map<string, number | undefined>();
  return (type, object) => {
    const key = keyOf(object);
    if (type === 'DELETED') {
      seenGenerations.delete(key);
      return true;
    }
    const changed = !seenGenerations.has(key) || seenGenerations.get(key) !== object.metadata?.generation || object.metadata?.deletionTimestamp !== undefined;
    seenGenerations.set(key, object.metadata?.generation);
    return changed;
  };
}

/** The `namespace/name` of the object's controlling owner of `kind`, if it has one. */
export function controllerKey(object: KubernetesObject, kind: string): string | undefined {
  const owner = object.metadata?.ownerReferences?.find((ref) => ref.kind === kind && ref.controller === true);
  return owner === undefined ? undefined : `${object.metadata?.namespace ?? ''}/${owner.name}`;
}
