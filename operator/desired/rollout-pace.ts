import type { V1Deployment } from '@kubernetes/client-node';
import { DRAIN_SECONDS, TEMPLATE_HASH } from './node.js';

/**
 * The node Deployment's minReadySeconds: the length of a drain while its pods are being
 * replaced, none otherwise. The Deployment controller does not count a terminating pod
 * against maxSurge, so as soon as a new pod is available it deletes the next old pod,
 * while the previous one may still be draining its clients: two drains at once, two
 * crowds reconnecting. With a new pod counted available only a drain's length after it
 * is ready, the previous old pod has gone before the next is deleted, the last step
 * included (which pausing the Deployment would not hold: a paused Deployment still scales
 * its old pods down once the new ones are all available). Traffic is not delayed (a ready
 * pod serves at once); only the rollout's pace is. At steady state, creation and scaling
 * nothing is set, so Ready is not delayed either.
 */
export function rolloutMinReadySeconds(live: V1Deployment | undefined, desiredTemplateHash: string): number | undefined {
  if (live === undefined) return undefined;
  if (live.metadata?.annotations?.[TEMPLATE_HASH] !== desiredTemplateHash) return DRAIN_SECONDS;
  // Its status does not yet describe its spec (just written): keep what is set, or an own
  // write would flip it back and forth.
  if ((live.status?.observedGeneration ?? 0) < (live.metadata.generation ?? 0)) {
    const set = live.spec?.minReadySeconds ?? 0;
    return set === 0 ? undefined : set;
  }
  const oldPodsLeft = (live.status?.replicas ?? 0) > (live.status?.updatedReplicas ?? 0);
  return oldPodsLeft ? DRAIN_SECONDS : undefined;
}
