import type { V1StatefulSet } from '@kubernetes/client-node';
import type { ChatCluster, ChatClusterSpec, RedisMode } from '../../common/chatcluster.js';

/** The managed Redis of a spec with its mode and replicas decided. */
export type ResolvedManagedRedis = NonNullable<ChatClusterSpec['redis']['managed']> & { mode: RedisMode; replicas: number };

/** The name of the container that runs a Sentinel beside each Redis of a sentinel StatefulSet. */
export const SENTINEL_CONTAINER = 'sentinel';

/** Whether a running Redis StatefulSet is a single instance (no Sentinel beside it): what every managed Redis was before modes. */
export function isSingleInstance(statefulSet: V1StatefulSet): boolean {
  return !(statefulSet.spec?.template.spec?.containers ?? []).some((container) => container.name === SENTINEL_CONTAINER);
}

/**
 * The mode a managed Redis runs in. The spec's mode wins; else its replicas say it (1 is
 * standalone, more is sentinel: the CRD allows nothing else); else a Redis already running
 * as a single instance stays one, so an operator upgrade never restructures it; else (a
 * new cluster) sentinel, the default.
 */
export function resolveRedisMode(managed: ChatClusterSpec['redis']['managed'], running: V1StatefulSet | undefined): RedisMode {
  if (managed?.mode !== undefined) return managed.mode;
  if (managed?.replicas !== undefined) return managed.replicas === 1 ? 'standalone' : 'sentinel';
  if (running !== undefined && isSingleInstance(running)) return 'standalone';
  return 'sentinel';
}

/** Redis pods of a mode when the spec names no number: one, or a primary and two replicas. */
export function defaultRedisReplicas(mode: RedisMode): number {
  return mode === 'standalone' ? 1 : 3;
}

/** The managed Redis with mode and replicas decided (see resolveRedisMode); undefined for an external Redis. */
export function resolveManagedRedis(cluster: ChatCluster, running?: V1StatefulSet): ResolvedManagedRedis | undefined {
  const managed = cluster.spec.redis.managed;
  if (managed === undefined || cluster.spec.redis.external !== undefined) return undefined;
  const mode = resolveRedisMode(managed, running);
  return { ...managed, mode, replicas: managed.replicas ?? defaultRedisReplicas(mode) };
}

/**
 * The ChatCluster with its managed Redis's mode and replicas written in, so every desired
 * object and the status read one decision. The stored spec is never changed.
 */
export function withResolvedRedis<C extends ChatCluster>(cluster: C, running: V1StatefulSet | undefined): C {
  const managed = resolveManagedRedis(cluster, running);
  if (managed === undefined) return cluster;
  return { ...cluster, spec: { ...cluster.spec, redis: { ...cluster.spec.redis, managed } } };
}
