import { isDeepStrictEqual } from 'node:util';
import type { V1Deployment, V1Job, V1StatefulSet } from '@kubernetes/client-node';
import type { ChatCluster, ChatClusterStatus, Condition, ConditionType, Phase, RedisMode, RedisStatus } from '../../common/chatcluster.js';
import { namesOf, NODE_PORT, nodeSelectorString } from '../desired/meta.js';
import { servesTls } from '../desired/encryption.js';
import { resolveManagedRedis } from '../desired/redis-mode.js';
import { primaryPodOf, type SentinelAnswer } from './redis-primary.js';

/** What the reconciler saw of the objects a ChatCluster owns. */
export interface Observed {
  deployment?: V1Deployment | undefined;
  redis?: V1StatefulSet | undefined;
  cassandra?: V1StatefulSet | undefined;
  schemaJob?: V1Job | undefined;
  /** The replicas the reconciler decided on. */
  desiredReplicas: number;
  /** Connections summed over the nodes' `/load`, when it could be read. */
  connections: number;
  /** A reconcile failure to report as Degraded. */
  error?: string | undefined;
  /** The managed Redis's mode as the reconciler resolved it; undefined for an external Redis. */
  redisMode?: RedisMode | undefined;
  /** What its Sentinels said of the primary, when they were asked (sentinel mode, pods ready). */
  sentinels?: SentinelAnswer | undefined;
  /** Why this generation was not applied at all (e.g. cert-manager missing for spec.tls.issuerRef): Degraded, not Ready. */
  blocked?: { reason: string; message: string } | undefined;
}

type Verdict = Pick<Condition, 'status' | 'reason' | 'message'>;

const yes = (reason: string, message: string): Verdict => ({ status: 'True', reason, message });
const no = (reason: string, message: string): Verdict => ({ status: 'False', reason, message });

/** A managed dependency's StatefulSet: ready when `wanted` pods (default: its own spec's count) are. */
function statefulSetVerdict(what: string, external: boolean, statefulSet: V1StatefulSet | undefined, wanted = statefulSet?.spec?.replicas ?? 1): Verdict {
  if (external) return yes('External', `${what} is external: not managed by the operator`);
  if (statefulSet === undefined) return no('NotCreated', `${what} StatefulSet does not exist yet`);
  const ready = statefulSet.status?.readyReplicas ?? 0;
  return ready >= wanted ? yes('Ready', `${ready}/${wanted} ${what} pods ready`) : no('PodsNotReady', `${ready}/${wanted} ${what} pods ready`);
}

/**
 * The managed Redis: its pods ready and, with Sentinel, a primary the Sentinels agree on
 * (when the operator could reach them; when it could not, the pods' readiness is all it knows).
 */
function redisVerdict(cluster: ChatCluster, observed: Observed): Verdict {
  // Counted against the spec's pods, not the StatefulSet's, which may not have caught up with a change yet.
  const pods = statefulSetVerdict('Redis', cluster.spec.redis.external !== undefined, observed.redis, resolveManagedRedis(cluster)?.replicas);
  if (pods.status !== 'True' || observed.redisMode !== 'sentinel') return pods;
  const answer = observed.sentinels;
  if (answer === undefined || !answer.reached) return yes('Ready', `${pods.message}; the operator could not reach the Sentinels to learn the primary`);
  if (answer.primaryHost === undefined) return no('NoPrimary', `${pods.message}; the Sentinels know no primary`);
  return yes('Ready', `${pods.message}; primary ${primaryPodOf(answer.primaryHost, namesOf(cluster).redis)}`);
}

/** status.redis: the mode, and the primary pod when it is known (the only pod, or the Sentinels' answer). */
function redisStatus(cluster: ChatCluster, observed: Observed): RedisStatus | undefined {
  if (observed.redisMode === undefined) return undefined;
  if (observed.redisMode === 'standalone') {
    return (observed.redis?.status?.readyReplicas ?? 0) > 0 ? { mode: 'standalone', primary: `${namesOf(cluster).redis}-0` } : { mode: 'standalone' };
  }
  const answer = observed.sentinels;
  return answer?.reached === true && answer.primaryHost !== undefined ? { mode: 'sentinel', primary: primaryPodOf(answer.primaryHost, namesOf(cluster).redis) } : { mode: 'sentinel' };
}

function schemaVerdict(job: V1Job | undefined): Verdict {
  if (job === undefined) return no('NotCreated', 'the schema Job does not exist yet');
  if ((job.status?.succeeded ?? 0) > 0) return yes('Migrated', `schema Job ${job.metadata?.name ?? ''} succeeded`);
  const failed = job.status?.conditions?.find((condition) => condition.type === 'Failed' && condition.status === 'True');
  if (failed !== undefined) return no('JobFailed', `schema Job ${job.metadata?.name ?? ''} failed: ${failed.message ?? failed.reason ?? ''}`);
  return no('Running', `schema Job ${job.metadata?.name ?? ''} is running`);
}

/**
 * The public Service's address: host:port as ever for a plaintext cluster (clients add ws://
 * or http://), wss://host:port with TLS, so a client that prefixes ws:// fails visibly
 * instead of speaking plaintext to a TLS port.
 */
export function endpointOf(cluster: ChatCluster): string {
  const address = `${namesOf(cluster).nodes}.${cluster.metadata.namespace}.svc:${NODE_PORT}`;
  return servesTls(cluster) ? `wss://${address}` : address;
}

/**
 * The ChatCluster's status from what was observed: conditions (each keeps its
 * lastTransitionTime until its status changes), phase, replica counts, selector, endpoint.
 */
export function computeStatus(cluster: ChatCluster, observed: Observed, now: Date): ChatClusterStatus {
  const { spec, metadata } = cluster;
  const redis = redisVerdict(cluster, observed);
  const cassandra = statefulSetVerdict('Cassandra', spec.cassandra.external !== undefined, observed.cassandra);
  const schema = schemaVerdict(observed.schemaJob);
  const deployment = observed.deployment;
  const replicas = deployment?.status?.replicas ?? 0;
  const ready = deployment?.status?.readyReplicas ?? 0;
  const updated = deployment?.status?.updatedReplicas ?? 0;
  const rolledOut = deployment !== undefined && updated >= observed.desiredReplicas && ready >= observed.desiredReplicas && replicas === observed.desiredReplicas;

  const blocked = observed.blocked === undefined ? undefined : no(observed.blocked.reason, observed.blocked.message);
  const dependenciesReady = [redis, cassandra, schema].every((verdict) => verdict.status === 'True') && blocked === undefined;
  const degraded: Verdict | undefined =
    observed.error !== undefined
      ? yes('ReconcileFailed', observed.error)
      : blocked !== undefined
        ? yes(blocked.reason, blocked.message)
        : schema.reason === 'JobFailed'
          ? yes('SchemaFailed', schema.message)
          : undefined;
  const verdicts: Record<ConditionType, Verdict> = {
    RedisReady: redis,
    CassandraReady: cassandra,
    SchemaReady: schema,
    Degraded: degraded ?? no('AsExpected', 'no failures'),
    Progressing: rolledOut && dependenciesReady ? no('Stable', `${ready} nodes ready`) : yes('RollingOut', `${ready}/${observed.desiredReplicas} nodes ready, ${updated} updated`),
    Ready:
      dependenciesReady && rolledOut
        ? yes('AllReady', `${ready} nodes ready; Redis, Cassandra and schema ready`)
        : no('NotReady', [...(blocked === undefined ? [] : [blocked]), redis, cassandra, schema].filter((v) => v.status !== 'True').map((v) => v.message).concat(rolledOut ? [] : [`${ready}/${observed.desiredReplicas} nodes ready`]).join('; ')),
  };

  const previous = new Map((cluster.status?.conditions ?? []).map((condition) => [condition.type, condition]));
  const conditions: Condition[] = (Object.keys(verdicts) as ConditionType[]).map((type) => {
    const verdict = verdicts[type];
    const before = previous.get(type);
    return {
      type,
      ...verdict,
      lastTransitionTime: before === undefined || before.status !== verdict.status ? now.toISOString().replace(/\.\d{3}Z$/, 'Z') : before.lastTransitionTime,
      observedGeneration: metadata.generation,
    };
  });

  const redisState = redisStatus(cluster, observed);
  // A failure shows even while the nodes still serve: Degraded outranks Ready.
  const phase: Phase =
    verdicts.Degraded.status === 'True' ? 'Degraded' : verdicts.Ready.status === 'True' ? 'Ready' : deployment === undefined && observed.schemaJob === undefined ? 'Pending' : 'Progressing';
  return {
    observedGeneration: metadata.generation,
    phase,
    conditions,
    replicas,
    readyReplicas: ready,
    connections: observed.connections,
    selector: nodeSelectorString(cluster),
    endpoint: endpointOf(cluster),
    ...(redisState === undefined ? {} : { redis: redisState }),
  };
}

/**
 * The status of a ChatCluster whose spec the API server accepted but this operator cannot
 * read (the CRD's schema and the operator's parser disagree, say after a downgrade):
 * Degraded with the reason, everything else as it was; the objects it owns keep running.
 */
export function invalidSpecStatus(previous: ChatClusterStatus | undefined, generation: number, message: string, now: Date): ChatClusterStatus {
  const degraded: Condition = {
    type: 'Degraded',
    status: 'True',
    reason: 'InvalidSpec',
    message: `the operator cannot read this spec: ${message}`,
    lastTransitionTime: now.toISOString().replace(/\.\d{3}Z$/, 'Z'),
    observedGeneration: generation,
  };
  const before = previous?.conditions?.find((condition) => condition.type === 'Degraded');
  if (before?.status === 'True') degraded.lastTransitionTime = before.lastTransitionTime;
  return {
    ...previous,
    observedGeneration: generation,
    phase: 'Degraded',
    conditions: [...(previous?.conditions ?? []).filter((condition) => condition.type !== 'Degraded'), degraded],
  };
}

/**
 * The JSON merge patch that turns the stored status into `after`: a field `after` leaves
 * out is removed (null), not kept, e.g. status.redis.primary once it is no longer known.
 * Arrays (conditions) are replaced whole, as a merge patch does.
 */
export function statusPatch(before: ChatClusterStatus | undefined, after: ChatClusterStatus): Record<string, unknown> {
  return mergePatch(before ?? {}, after);
}

function mergePatch(before: object, after: object): Record<string, unknown> {
  const isPlainObject = (value: unknown): value is object => typeof value === 'object' && value !== null && !Array.isArray(value);
  const patch: Record<string, unknown> = {};
  for (const key of Object.keys(before)) if (!(key in after)) patch[key] = null;
  for (const [key, value] of Object.entries(after)) {
    const old: unknown = (before as Record<string, unknown>)[key];
    patch[key] = isPlainObject(old) && isPlainObject(value) ? mergePatch(old, value) : value;
  }
  return patch;
}

/** Whether two statuses differ in anything but the order of conditions; the status is written only then. */
export function statusChanged(before: ChatClusterStatus | undefined, after: ChatClusterStatus): boolean {
  // The API server returns fields in its own order: compare values, not serializations.
  const normalize = (status: ChatClusterStatus | undefined) => ({
    ...status,
    conditions: [...(status?.conditions ?? [])].sort((a, b) => a.type.localeCompare(b.type)),
  });
  return !isDeepStrictEqual(normalize(before), normalize(after));
}
