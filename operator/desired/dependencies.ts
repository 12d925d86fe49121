import { cassandraHeapEnv, DEFAULT_CASSANDRA_RESOURCES } from './cassandra-heap.js';
import type { ChatCluster } from '../../common/chatcluster.js';
import type { V1Affinity, V1PersistentVolumeClaim, V1PodDisruptionBudget, V1Service, V1StatefulSet } from '@kubernetes/client-node';
import { cassandraCommand } from './cassandra-start.js';
import { cassandraTlsVolumes, managedCassandraTls } from './cassandra-tls.js';
import { CQL_PORT, namesOf, oneAtATimeDisruptionBudget, ownedMeta, resourceRequirements, selectorLabels } from './meta.js';

/** Images of the managed dependencies, pinned. */
export const REDIS_IMAGE = 'redis:7.4.2';
export const CASSANDRA_IMAGE = 'cassandra:5.0.4';

/**
 * What happens to the data volumes when a ChatCluster is deleted or shrunk: they are kept
 * (chat history is not something to lose to a mistyped kubectl delete); remove the
 * PersistentVolumeClaims by hand to free the storage.
 */
export const KEEP_VOLUMES = { whenDeleted: 'Retain', whenScaled: 'Retain' };

/** The official Redis and Cassandra images run as uid 999; their data volume is made theirs. */
export const DEPENDENCY_POD_SECURITY = { runAsNonRoot: true, runAsUser: 999, runAsGroup: 999, fsGroup: 999, seccompProfile: { type: 'RuntimeDefault' } };

/**
 * The one persistent volume claim of a dependency pod, mounted as `data`. Its labels are the
 * pods' selector only: a StatefulSet's claim template cannot change once it exists, so
 * labels added here would stop the operator from updating any ChatCluster made before.
 */
export function dataVolumeClaim(selector: Record<string, string>, storage: string | number): V1PersistentVolumeClaim {
  return {
    metadata: { name: 'data', labels: selector },
    spec: { accessModes: ['ReadWriteOnce'], resources: { requests: { storage: String(storage) } } },
  };
}

/**
 * Pods of one component on different hosts when there are enough: preferred, not
 * required, so a one-host cluster (kind, a laptop) still schedules them all.
 */
export function spreadOverHosts(selector: Record<string, string>): V1Affinity {
  return {
    podAntiAffinity: {
      preferredDuringSchedulingIgnoredDuringExecution: [{ weight: 100, podAffinityTerm: { topologyKey: 'kubernetes.io/hostname', labelSelector: { matchLabels: selector } } }],
    },
  };
}

/**
 * Managed Cassandra: a StatefulSet with a headless Service for stable peer names; the
 * first pods are the seeds, and pods start one at a time (each joins the ring in turn).
 * Its disruption budget lets a drain take one pod at a time, so LOCAL_QUORUM holds.
 */
export function desiredCassandra(cluster: ChatCluster): { statefulSet: V1StatefulSet; service: V1Service; disruptionBudget: V1PodDisruptionBudget } | undefined {
  const managed = cluster.spec.cassandra.managed;
  if (managed === undefined || cluster.spec.cassandra.external !== undefined) return undefined;
  const name = namesOf(cluster).cassandra;
  const namespace = cluster.metadata.namespace;
  const selector = selectorLabels(cluster, 'cassandra');
  const seeds = Array.from({ length: Math.min(managed.replicas, 2) }, (_, ordinal) => `${name}-${ordinal}.${name}.${namespace}.svc`).join(',');
  const tls = managedCassandraTls(cluster) ? cassandraTlsVolumes(cluster) : undefined;
  const resources = managed.resources ?? DEFAULT_CASSANDRA_RESOURCES;
  const command = cassandraCommand(cluster);
  const statefulSet: V1StatefulSet = {
    apiVersion: 'apps/v1',
    kind: 'StatefulSet',
    metadata: ownedMeta(cluster, name, 'cassandra'),
    spec: {
      serviceName: name,
      replicas: managed.replicas,
      podManagementPolicy: 'OrderedReady',
      selector: { matchLabels: selector },
      persistentVolumeClaimRetentionPolicy: KEEP_VOLUMES,
      template: {
        metadata: { labels: ownedMeta(cluster, name, 'cassandra').labels },
        spec: {
          automountServiceAccountToken: false,
          terminationGracePeriodSeconds: 120,
          securityContext: DEPENDENCY_POD_SECURITY,
          affinity: spreadOverHosts(selector),
          containers: [
            {
              name: 'cassandra',
              image: CASSANDRA_IMAGE,
              // The timer slack and TLS's settings are set before the image's entrypoint runs.
              ...(command === undefined ? {} : { command }),
              ports: [
                { name: 'cql', containerPort: CQL_PORT },
                { name: 'intra-node', containerPort: 7000 },
              ],
              env: [
                { name: 'CASSANDRA_CLUSTER_NAME', value: `${cluster.metadata.name}-chat` },
                { name: 'CASSANDRA_SEEDS', value: seeds },
                { name: 'CASSANDRA_DC', value: 'dc1' },
                { name: 'CASSANDRA_RACK', value: 'rack1' },
                { name: 'CASSANDRA_ENDPOINT_SNITCH', value: 'GossipingPropertyFileSnitch' },
                ...cassandraHeapEnv(resources.limits?.memory),
              ],
              readinessProbe: { tcpSocket: { port: 'cql' }, initialDelaySeconds: 15, periodSeconds: 10 },
              lifecycle: { preStop: { exec: { command: ['nodetool', 'drain'] } } },
              volumeMounts: [{ name: 'data', mountPath: '/var/lib/cassandra' }, ...(tls?.mounts ?? [])],
              securityContext: { allowPrivilegeEscalation: false, capabilities: { drop: ['ALL'] } },
              ...resourceRequirements(resources),
            },
          ],
          ...(tls === undefined ? {} : { volumes: tls.volumes }),
        },
      },
      volumeClaimTemplates: [dataVolumeClaim(selector, managed.storage)],
    },
  };
  const service: V1Service = {
    apiVersion: 'v1',
    kind: 'Service',
    metadata: ownedMeta(cluster, name, 'cassandra'),
    spec: {
      clusterIP: 'None',
      // Peers must find each other before they are ready, or the ring never forms.
      publishNotReadyAddresses: true,
      selector,
      ports: [
        { name: 'cql', port: CQL_PORT, targetPort: 'cql' },
        { name: 'intra-node', port: 7000, targetPort: 'intra-node' },
      ],
    },
  };
  return { statefulSet, service, disruptionBudget: oneAtATimeDisruptionBudget(cluster, name, 'cassandra') };
}
