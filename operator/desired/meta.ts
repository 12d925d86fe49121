import { createHash } from 'node:crypto';
import type { V1ObjectMeta, V1OwnerReference, V1PodDisruptionBudget, V1ResourceRequirements } from '@kubernetes/client-node';
import { CHATCLUSTER_API_VERSION, CHATCLUSTER_KIND, type ChatCluster, type Resources } from '../../common/chatcluster.js';

export type Component = 'node' | 'redis' | 'cassandra' | 'schema';

/** Ports of a chat node: public (load-balanced) and admin (operator and Prometheus only). */
export const NODE_PORT = 8080;
export const ADMIN_PORT = 9090;
export const REDIS_PORT = 6379;
export const SENTINEL_PORT = 26379;
export const CQL_PORT = 9042;

/** Names of everything a ChatCluster owns, derived from its name alone. */
export function namesOf(cluster: ChatCluster): {
  nodes: string;
  headless: string;
  config: string;
  jwtSecret: string;
  redis: string;
  cassandra: string;
  schemaJob: string;
  tls: string;
  ca: string;
} {
  const name = cluster.metadata.name;
  return {
    nodes: `${name}-chat`,
    headless: `${name}-chat-nodes`,
    config: `${name}-chat-config`,
    jwtSecret: `${name}-chat-jwt`,
    redis: `${name}-redis`,
    cassandra: `${name}-cassandra`,
    schemaJob: `${name}-schema`,
    // The server certificate (for the nodes and the managed Redis and Cassandra) and its self-signed CA.
    tls: `${name}-tls`,
    ca: `${name}-ca`,
  };
}

/** The labels selecting one component's pods. */
export function selectorLabels(cluster: ChatCluster, component: Component): Record<string, string> {
  return {
    'app.kubernetes.io/name': 'chatcluster',
    'app.kubernetes.io/instance': cluster.metadata.name,
    'app.kubernetes.io/component': component,
  };
}

/** The labels on everything created (CRD.md): selector labels plus managed-by and part-of. */
export function labelsOf(cluster: ChatCluster, component: Component): Record<string, string> {
  return {
    ...selectorLabels(cluster, component),
    'app.kubernetes.io/managed-by': 'chatcluster-operator',
    'app.kubernetes.io/part-of': 'chatcluster',
  };
}

/** The label selector of the node pods, as the scale subresource reports it. */
export function nodeSelectorString(cluster: ChatCluster): string {
  return Object.entries(selectorLabels(cluster, 'node'))
    .map(([key, value]) => `${key}=${value}`)
    .join(',');
}

/** Makes the ChatCluster the controller of an object, so deleting it deletes the object. */
export function ownerReference(cluster: ChatCluster): V1OwnerReference {
  return {
    apiVersion: CHATCLUSTER_API_VERSION,
    kind: CHATCLUSTER_KIND,
    name: cluster.metadata.name,
    uid: cluster.metadata.uid,
    controller: true,
    blockOwnerDeletion: true,
  };
}

/** Metadata of an owned object: name, namespace, labels, owner. */
export function ownedMeta(cluster: ChatCluster, name: string, component: Component, extra: Partial<V1ObjectMeta> = {}): V1ObjectMeta {
  return {
    name,
    namespace: cluster.metadata.namespace,
    ...extra,
    labels: { ...labelsOf(cluster, component), ...extra.labels },
    ownerReferences: [ownerReference(cluster)],
  };
}

/**
 * Voluntary disruptions (node drains, cluster upgrades) take one pod of a component at a
 * time: one chat node's clients move at once, a Sentinel Redis keeps its majority, a
 * Cassandra ring of replication factor 3 or more keeps its quorum (with 1 or 2, one pod
 * away already costs LOCAL_QUORUM writes; the budget cannot help there).
 */
export function oneAtATimeDisruptionBudget(cluster: ChatCluster, name: string, component: Component): V1PodDisruptionBudget {
  return {
    apiVersion: 'policy/v1',
    kind: 'PodDisruptionBudget',
    metadata: ownedMeta(cluster, name, component),
    spec: { maxUnavailable: 1, selector: { matchLabels: selectorLabels(cluster, component) } },
  };
}

/** A short stable hash of any JSON value, for rollout triggers and job names. */
export function hashOf(value: unknown): string {
  return createHash('sha256').update(JSON.stringify(value)).digest('hex').slice(0, 10);
}

/** Hardened container security: non-root, read-only root filesystem, no capabilities. */
export const RESTRICTED_CONTAINER = {
  allowPrivilegeEscalation: false,
  readOnlyRootFilesystem: true,
  runAsNonRoot: true,
  capabilities: { drop: ['ALL'] },
  seccompProfile: { type: 'RuntimeDefault' },
};

/** Resource requests and limits as Kubernetes quantities (a number 2 is the quantity "2"). */
export function resourceRequirements(resources: Resources | undefined): { resources?: V1ResourceRequirements } {
  if (resources === undefined) return {};
  const quantities = (list: Record<string, string | number> | undefined): Record<string, string> | undefined =>
    list === undefined ? undefined : Object.fromEntries(Object.entries(list).map(([name, value]) => [name, String(value)]));
  const limits = quantities(resources.limits);
  const requests = quantities(resources.requests);
  return { resources: { ...(limits === undefined ? {} : { limits }), ...(requests === undefined ? {} : { requests }) } };
}
