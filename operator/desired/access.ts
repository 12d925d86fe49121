import type { KubernetesObject, V1LabelSelector, V1NetworkPolicy, V1NetworkPolicyIngressRule, V1NetworkPolicyPeer, V1Secret } from '@kubernetes/client-node';
import type { ChatCluster } from '../../common/chatcluster.js';
import { ADMIN_PORT, CQL_PORT, labelsOf, namesOf, NODE_PORT, ownedMeta, REDIS_PORT, selectorLabels, SENTINEL_PORT, type Component } from './meta.js';

/**
 * The generated JWT secret, when the spec names none and uses no JWKS. It is created once
 * and never overwritten: rotating it would sign every client out.
 */
export function desiredJwtSecret(cluster: ChatCluster, randomSecret: () => string): V1Secret | undefined {
  if (cluster.spec.auth.jwtSecretRef !== undefined || cluster.spec.auth.jwksURL !== undefined) return undefined;
  return {
    apiVersion: 'v1',
    kind: 'Secret',
    metadata: ownedMeta(cluster, namesOf(cluster).jwtSecret, 'node'),
    type: 'Opaque',
    stringData: { secret: randomSecret() },
  };
}

/** Where the pods that may call a node's admin port run. */
export interface AdminPortClients {
  /** The operator's namespace: its pods (labelled part-of chatcluster, component operator) read `/load`. */
  operatorNamespace: string;
  /** Prometheus's namespace (its pods are labelled app.kubernetes.io/name: prometheus); undefined: any. */
  prometheusNamespace: string | undefined;
}

/**
 * Only the public port is open to all; the admin port (metrics, load, drain) admits the
 * operator's pods from its namespace and Prometheus's pods alone.
 */
export function desiredNetworkPolicy(cluster: ChatCluster, clients: AdminPortClients): V1NetworkPolicy {
  const operator = operatorPods(clients.operatorNamespace);
  const prometheus = { namespaceSelector: inNamespace(clients.prometheusNamespace), podSelector: { matchLabels: { 'app.kubernetes.io/name': 'prometheus' } } };
  return ingressPolicy(cluster, namesOf(cluster).nodes, 'node', [
    { ports: [{ protocol: 'TCP', port: NODE_PORT }] },
    { ports: [{ protocol: 'TCP', port: ADMIN_PORT }], _from: [operator, prometheus] },
  ]);
}

const inNamespace = (namespace: string | undefined): V1LabelSelector => (namespace === undefined ? {} : { matchLabels: { 'kubernetes.io/metadata.name': namespace } });

/** The operator's pods, in its namespace. */
function operatorPods(operatorNamespace: string): V1NetworkPolicyPeer {
  return {
    namespaceSelector: inNamespace(operatorNamespace),
    podSelector: { matchLabels: { 'app.kubernetes.io/part-of': 'chatcluster', 'app.kubernetes.io/component': 'operator' } },
  };
}

/**
 * An ingress-only NetworkPolicy over one component's pods. (client-node's models name
 * `from` `_from`, a reserved word; its serializer writes `from`.)
 */
function ingressPolicy(cluster: ChatCluster, name: string, component: Component, ingress: V1NetworkPolicyIngressRule[]): V1NetworkPolicy {
  return {
    apiVersion: 'networking.k8s.io/v1',
    kind: 'NetworkPolicy',
    metadata: ownedMeta(cluster, name, component),
    spec: { podSelector: { matchLabels: selectorLabels(cluster, component) }, policyTypes: ['Ingress'], ingress },
  };
}

/** The Prometheus Operator's ServiceMonitor: its API version and its CRD's name. */
export const SERVICE_MONITOR_API_VERSION = 'monitoring.coreos.com/v1';
export const SERVICE_MONITOR_CRD = 'servicemonitors.monitoring.coreos.com';

/** A Prometheus Operator ServiceMonitor scraping every node's admin port. */
export function desiredServiceMonitor(cluster: ChatCluster): KubernetesObject & { spec: unknown } {
  return {
    apiVersion: SERVICE_MONITOR_API_VERSION,
    kind: 'ServiceMonitor',
    metadata: ownedMeta(cluster, namesOf(cluster).nodes, 'node'),
    spec: {
      selector: { matchLabels: labelsOf(cluster, 'node') },
      endpoints: [
        {
          port: 'admin',
          path: '/metrics',
          interval: '15s',
          // The `chatcluster` label the dashboards and alerts select by (beside namespace and pod).
          relabelings: [{ sourceLabels: ['__meta_kubernetes_service_label_app_kubernetes_io_instance'], targetLabel: 'chatcluster' }],
        },
      ],
    },
  };
}

/**
 * Only this cluster's chat nodes and schema Job reach its managed Redis and Cassandra
 * (and Cassandra's peers each other): nothing else in the cluster can forge inbox entries
 * or read the messages.
 */
export function desiredDependencyNetworkPolicy(cluster: ChatCluster, component: 'redis' | 'cassandra'): V1NetworkPolicy {
  const clients = dependencyClients(cluster);
  const name = component === 'redis' ? namesOf(cluster).redis : namesOf(cluster).cassandra;
  const peers = { podSelector: { matchLabels: selectorLabels(cluster, 'cassandra') } };
  return ingressPolicy(
    cluster,
    name,
    component,
    component === 'redis'
      ? [{ ports: [{ protocol: 'TCP', port: REDIS_PORT }], _from: clients }]
      : [
          { ports: [{ protocol: 'TCP', port: CQL_PORT }], _from: [...clients, peers] },
          { ports: [{ protocol: 'TCP', port: 7000 }], _from: [peers] },
        ],
  );
}

/** This cluster's chat nodes and schema Job: the clients of its managed dependencies. */
function dependencyClients(cluster: ChatCluster): V1NetworkPolicyPeer[] {
  return (['node', 'schema'] as const).map((role) => ({ podSelector: { matchLabels: selectorLabels(cluster, role) } }));
}

/**
 * A Sentinel-managed Redis: its pods reach each other (replication, Sentinels watching
 * and electing); the nodes reach Redis and ask the Sentinels where the primary is; the
 * operator asks them too, for the status.
 */
export function desiredSentinelNetworkPolicy(cluster: ChatCluster, operatorNamespace: string): V1NetworkPolicy {
  const peers = { podSelector: { matchLabels: selectorLabels(cluster, 'redis') } };
  const nodes = { podSelector: { matchLabels: selectorLabels(cluster, 'node') } };
  return ingressPolicy(cluster, namesOf(cluster).redis, 'redis', [
    { ports: [{ protocol: 'TCP', port: REDIS_PORT }], _from: [...dependencyClients(cluster), peers] },
    { ports: [{ protocol: 'TCP', port: SENTINEL_PORT }], _from: [nodes, peers, operatorPods(operatorNamespace)] },
  ]);
}
