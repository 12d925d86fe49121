import type { KubernetesObject, V1Deployment } from '@kubernetes/client-node';
import type { ChatCluster } from '../../common/chatcluster.js';
import { desiredDependencyNetworkPolicy, desiredJwtSecret, desiredNetworkPolicy, desiredSentinelNetworkPolicy, desiredServiceMonitor, type AdminPortClients } from './access.js';
import { desiredCertificate } from './certificate.js';
import { desiredCassandra } from './dependencies.js';
import { desiredRedis, type DesiredRedis } from './redis.js';
import { desiredConfigMap, desiredHeadlessService, desiredNodeDeployment, desiredNodeDisruptionBudget, desiredPublicService, TEMPLATE_HASH } from './node.js';
import { desiredResealJob } from './reseal-job.js';
import { desiredSchemaJob } from './schema-job.js';

/** What, besides the spec, decides the objects: facts the reconciler observed or chose. */
export interface DesiredContext {
  /** Node replicas: the autoscaler's decision, or spec.replicas when autoscaling is off. */
  nodeReplicas: number;
  /** The node image when the spec names none: the one this operator was released with. */
  defaultImage: string;
  /** Whether the Prometheus Operator's ServiceMonitor CRD exists in the cluster. */
  serviceMonitorCrdPresent: boolean;
  /** Whether the schema Job of the current image has succeeded; nodes roll only after it. */
  schemaReady: boolean;
  /**
   * The running node Deployment, if there is one: until the schema is ready it keeps its pod
   * template (the previous image and settings) and takes only the replicas.
   */
  liveNodeDeployment?: V1Deployment | undefined;
  /** The node Deployment's minReadySeconds: set while its pods are being replaced (see rollout-pace.ts). */
  nodeMinReadySeconds: number | undefined;
  /** Who may call the nodes' admin port. */
  adminPortClients: AdminPortClients;
  /** The newest version in the at-rest keys Secret, when there is one: its reseal Job is made once the schema is ready. */
  newestKeyVersion?: number | undefined;
}

/** Everything a ChatCluster should own, in apply order (dependencies before dependents). */
export interface DesiredObjects {
  /** Created once if missing, never updated (the generated JWT secret, the reseal Job). */
  createOnly: KubernetesObject[];
  /** Applied with server-side apply on every reconcile. */
  applied: KubernetesObject[];
  schemaJobName: string;
}

export function nodeImage(cluster: ChatCluster, defaultImage: string): string {
  return cluster.spec.image ?? defaultImage;
}

/** Whether a ServiceMonitor is wanted: `auto` follows the CRD's presence. */
export function wantsServiceMonitor(cluster: ChatCluster, crdPresent: boolean): boolean {
  const setting = cluster.spec.monitoring.serviceMonitor;
  return setting === 'true' || (setting === 'auto' && crdPresent);
}

/** The managed Redis's objects, its NetworkPolicy first; with Sentinel, the operator may ask the Sentinels. */
function redisObjects(cluster: ChatCluster, redis: DesiredRedis, clients: AdminPortClients): KubernetesObject[] {
  if (redis.mode === 'standalone') return [desiredDependencyNetworkPolicy(cluster, 'redis'), redis.service, redis.statefulSet];
  return [desiredSentinelNetworkPolicy(cluster, clients.operatorNamespace), redis.service, ...(redis.disruptionBudget === undefined ? [] : [redis.disruptionBudget]), redis.statefulSet];
}

/**
 * The objects a ChatCluster should own, as a pure function of its spec and the context.
 * An unset managed Redis mode is read as a new cluster's (sentinel) unless the caller
 * resolved it first (withResolvedRedis, which knows what runs).
 * Until the schema Job of the current image succeeds, an existing node Deployment keeps its
 * pod template (the previous image) and follows only the replica count, so nodes never run
 * on an old schema and a Job that cannot run (a mistyped image) does not stop scaling; a
 * new cluster gets its Deployment once the Job has succeeded.
 */
export function desiredObjects(cluster: ChatCluster, context: DesiredContext, randomSecret: () => string): DesiredObjects {
  const image = nodeImage(cluster, context.defaultImage);
  const redis = desiredRedis(cluster);
  const cassandra = desiredCassandra(cluster);
  const schemaJob = desiredSchemaJob(cluster, image);
  const secret = desiredJwtSecret(cluster, randomSecret);
  const certificate = desiredCertificate(cluster);
  const applied: KubernetesObject[] = [
    desiredConfigMap(cluster),
    // Before everything that mounts the Secret it writes.
    ...(certificate === undefined ? [] : [certificate]),
    ...(redis === undefined ? [] : redisObjects(cluster, redis, context.adminPortClients)),
    ...(cassandra === undefined ? [] : [desiredDependencyNetworkPolicy(cluster, 'cassandra'), cassandra.service, cassandra.disruptionBudget, cassandra.statefulSet]),
    schemaJob,
    desiredPublicService(cluster),
    desiredHeadlessService(cluster),
    desiredNodeDisruptionBudget(cluster),
    desiredNetworkPolicy(cluster, context.adminPortClients),
    ...nodeDeployment(cluster, context, image),
    ...(wantsServiceMonitor(cluster, context.serviceMonitorCrdPresent) ? [desiredServiceMonitor(cluster)] : []),
  ];
  const reseal = context.schemaReady && context.newestKeyVersion !== undefined ? desiredResealJob(cluster, image, context.newestKeyVersion) : undefined;
  return { createOnly: [...(secret === undefined ? [] : [secret]), ...(reseal === undefined ? [] : [reseal])], applied, schemaJobName: schemaJob.metadata?.name ?? '' };
}

/**
 * The node Deployment to apply: the desired one, or while the schema is not ready, the
 * running one's template, and the hash that says which template that is (the rollout's
 * pacing reads it), at the new count. Pods it adds meanwhile read the ConfigMap as it is
 * now, as a running pod that restarts does.
 */
function nodeDeployment(cluster: ChatCluster, context: DesiredContext, image: string): V1Deployment[] {
  const desired = desiredNodeDeployment(cluster, context.nodeReplicas, image, context.nodeMinReadySeconds);
  if (context.schemaReady) return [desired];
  const live = context.liveNodeDeployment;
  if (live?.spec === undefined || desired.spec === undefined) return [];
  const runningHash = live.metadata?.annotations?.[TEMPLATE_HASH];
  const annotations = { ...desired.metadata?.annotations, ...(runningHash === undefined ? {} : { [TEMPLATE_HASH]: runningHash }) };
  return [
    {
      apiVersion: desired.apiVersion,
      kind: desired.kind,
      metadata: Object.assign({}, desired.metadata, { annotations }),
      spec: Object.assign({}, desired.spec, { template: live.spec.template }),
    },
  ];
}
