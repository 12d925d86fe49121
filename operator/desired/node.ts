import type { V1ConfigMap, V1Deployment, V1EnvVar, V1HTTPGetAction, V1PodDisruptionBudget, V1PodTemplateSpec, V1Service, V1ServicePort, V1TopologySpreadConstraint } from '@kubernetes/client-node';
import type { ChatCluster, Resources } from '../../common/chatcluster.js';
import { atRestKeyMounts, combineMounts, dependencyTlsMounts, servesTls, servingTlsMounts, type FileMounts } from './encryption.js';
import { ADMIN_PORT, CQL_PORT, hashOf, namesOf, NODE_PORT, oneAtATimeDisruptionBudget, ownedMeta, resourceRequirements, RESTRICTED_CONTAINER, selectorLabels } from './meta.js';
import { managedRedisUrl } from './redis.js';
import { resolveManagedRedis } from './redis-mode.js';

/** Seconds clients of a draining node are spread over; the grace period leaves room for it. */
export const DRAIN_SPREAD_SECONDS = 10;
/** Time for endpoints to drop a terminating pod before it starts draining. */
const PRE_STOP_SLEEP_SECONDS = 5;
export const TERMINATION_GRACE_SECONDS = PRE_STOP_SLEEP_SECONDS + DRAIN_SPREAD_SECONDS + 15;
/** How long a drain takes, normally: the preStop pause, the spread of reconnects, and a margin. */
export const DRAIN_SECONDS = PRE_STOP_SLEEP_SECONDS + DRAIN_SPREAD_SECONDS + 5;
/** The annotation on the node Deployment naming the hash of the pod template it was given. */
export const TEMPLATE_HASH = 'chatcluster.dev/template-hash';
/** The chat node image's user (`node`, 1000:1000 in the Dockerfile): numeric, so runAsNonRoot can be checked. */
export const NODE_UID = 1000;

/**
 * What a chat node container gets when `spec.resources` is not given. The CPU request is what
 * the autoscaler's second signal is a percent of (`autoscaling.targetCPUUtilization`): without
 * one, the nodes would scale on connections alone, though the CRD's defaults name both
 * signals. The memory request covers a node at rest (about 100 MiB) and the default 5,000
 * sockets a node (a few KiB each). Small, like the managed Cassandra's default: two nodes, a
 * third when scaled, and three Cassandra replicas fit beside Kubernetes' own pods on one
 * 2-core kind node. No limits: a throttled or OOM-killed node fails every socket it holds.
 * Production sets its own; `resources: {}` asks for none.
 */
export const DEFAULT_NODE_RESOURCES: Resources = { requests: { cpu: '100m', memory: '128Mi' } };

/** Where the node's JWT secret comes from: the user's Secret, or the one the operator generates. */
export function jwtSecretRef(cluster: ChatCluster): { name: string; key: string } {
  return cluster.spec.auth.jwtSecretRef ?? { name: namesOf(cluster).jwtSecret, key: 'secret' };
}

/** The node's non-secret configuration, as environment variables (CHAT_*). */
export function desiredConfigMap(cluster: ChatCluster): V1ConfigMap {
  const { spec } = cluster;
  const names = namesOf(cluster);
  const namespace = cluster.metadata.namespace;
  const data: Record<string, string> = {
    CHAT_PORT: String(NODE_PORT),
    CHAT_ADMIN_PORT: String(ADMIN_PORT),
    CHAT_CASSANDRA_KEYSPACE: spec.cassandra.keyspace,
    CHAT_MAX_FRAME_BYTES: String(spec.limits.maxFrameBytes),
    CHAT_MESSAGES_PER_SECOND: String(spec.limits.messagesPerSecondPerUser),
    CHAT_DRAIN_SPREAD_MS: String(DRAIN_SPREAD_SECONDS * 1000),
    CHAT_REDIS_KEY_PREFIX: 'chat:',
  };
  const managedRedis = resolveManagedRedis(cluster);
  if (managedRedis !== undefined) data.CHAT_REDIS_URL = managedRedisUrl(cluster, managedRedis);
  else if (spec.redis.external !== undefined && spec.redis.external.secretRef === undefined) data.CHAT_REDIS_URL = spec.redis.external.url;
  const cassandra = spec.cassandra;
  if (cassandra.external === undefined) {
    const replicas = cassandra.managed?.replicas ?? 3;
    data.CHAT_CASSANDRA_CONTACT_POINTS = Array.from(
      { length: Math.min(replicas, 3) },
      (_, ordinal) => `${names.cassandra}-${ordinal}.${names.cassandra}.${namespace}.svc:${CQL_PORT}`,
    ).join(',');
    data.CHAT_CASSANDRA_DC = 'dc1';
    data.CHAT_CASSANDRA_REPLICATION_FACTOR = String(cassandra.managed?.replicationFactor ?? 3);
  } else {
    data.CHAT_CASSANDRA_CONTACT_POINTS = cassandra.external.contactPoints.map((point) => (point.includes(':') ? point : `${point}:${CQL_PORT}`)).join(',');
    data.CHAT_CASSANDRA_DC = cassandra.external.datacenter;
    data.CHAT_CASSANDRA_REPLICATION_FACTOR = String(cassandra.external.replicationFactor);
  }
  if (spec.auth.jwksURL !== undefined) data.CHAT_JWT_JWKS_URL = spec.auth.jwksURL;
  return { apiVersion: 'v1', kind: 'ConfigMap', metadata: ownedMeta(cluster, names.config, 'node'), data };
}

/** Secret-sourced environment: the JWT secret (unless JWKS), an external Redis URL kept in a Secret, an external Cassandra's login. */
function secretEnv(cluster: ChatCluster): V1EnvVar[] {
  const env: V1EnvVar[] = [];
  if (cluster.spec.auth.jwksURL === undefined) {
    env.push({ name: 'CHAT_JWT_SECRET', valueFrom: { secretKeyRef: jwtSecretRef(cluster) } });
  }
  const externalRedis = cluster.spec.redis.external;
  if (externalRedis?.secretRef !== undefined) {
    env.push({ name: 'CHAT_REDIS_URL', valueFrom: { secretKeyRef: externalRedis.secretRef } });
  }
  const cassandraLogin = cluster.spec.cassandra.external?.secretRef;
  if (cassandraLogin !== undefined) {
    env.push(
      { name: 'CHAT_CASSANDRA_USERNAME', valueFrom: { secretKeyRef: { name: cassandraLogin.name, key: 'username' } } },
      { name: 'CHAT_CASSANDRA_PASSWORD', valueFrom: { secretKeyRef: { name: cassandraLogin.name, key: 'password' } } },
    );
  }
  return env;
}

/**
 * The environment every chat container (node and Jobs) gets, with the volumes it names:
 * the config, the secrets, and the CA bundles to reach Redis and Cassandra over TLS.
 */
export function nodeEnv(cluster: ChatCluster): FileMounts & { envFrom: { configMapRef: { name: string } }[] } {
  const tls = dependencyTlsMounts(cluster);
  return { envFrom: [{ configMapRef: { name: namesOf(cluster).config } }], ...tls, env: [...secretEnv(cluster), ...tls.env] };
}

/** The public port's name: it says which protocol it speaks (https carries wss too), as the Services' ports do. */
export function publicPortName(cluster: ChatCluster): 'http' | 'https' {
  return servesTls(cluster) ? 'https' : 'http';
}

/** The Service port of the public port; with TLS its appProtocol says wss (Kubernetes' kubernetes.io/wss). */
function publicServicePort(cluster: ChatCluster): V1ServicePort {
  const name = publicPortName(cluster);
  return { name, port: NODE_PORT, targetPort: name, protocol: 'TCP', ...(servesTls(cluster) ? { appProtocol: 'kubernetes.io/wss' } : {}) };
}

/** An HTTP probe of the public port, in the scheme it serves. */
function publicProbe(cluster: ChatCluster, path: string): V1HTTPGetAction {
  return { path, port: publicPortName(cluster), ...(servesTls(cluster) ? { scheme: 'HTTPS' } : {}) };
}

/**
 * The chat node Deployment. The config's hash is a pod annotation, so a configuration
 * change rolls the pods; the grace period covers the preStop pause and the drain.
 */
export function desiredNodeDeployment(cluster: ChatCluster, replicas: number, image: string, minReadySeconds?: number): V1Deployment {
  const names = namesOf(cluster);
  const selector = selectorLabels(cluster, 'node');
  const template = desiredNodePodTemplate(cluster, image);
  return {
    apiVersion: 'apps/v1',
    kind: 'Deployment',
    metadata: ownedMeta(cluster, names.nodes, 'node', { annotations: { [TEMPLATE_HASH]: hashOf(template) } }),
    spec: {
      replicas,
      // Set only while pods are being replaced (see rollout-pace.ts), so the steady object is unchanged by it.
      ...(minReadySeconds === undefined ? {} : { minReadySeconds }),
      selector: { matchLabels: selector },
      strategy: { type: 'RollingUpdate', rollingUpdate: { maxUnavailable: 0, maxSurge: 1 } },
      template,
    },
  };
}

/** The hash of the node pods' template: what, when it changes, rolls the pods. */
export function nodeTemplateHash(cluster: ChatCluster, image: string): string {
  return hashOf(desiredNodePodTemplate(cluster, image));
}

function desiredNodePodTemplate(cluster: ChatCluster, image: string): V1PodTemplateSpec {
  const selector = selectorLabels(cluster, 'node');
  const podTemplate = cluster.spec.podTemplate;
  const shared = nodeEnv(cluster);
  // Only the node serves the public port and keeps message texts: its certificate and the at-rest keys.
  const { env, volumes, volumeMounts } = combineMounts(shared, servingTlsMounts(cluster), atRestKeyMounts(cluster));
  const configHash = hashOf({ config: desiredConfigMap(cluster).data, env });
  return {
        metadata: {
          labels: { ...podTemplate.labels, ...ownedMeta(cluster, '', 'node').labels },
          annotations: { ...podTemplate.annotations, 'chatcluster.dev/config-hash': configHash },
        },
        spec: {
          automountServiceAccountToken: false,
          enableServiceLinks: false,
          terminationGracePeriodSeconds: TERMINATION_GRACE_SECONDS,
          securityContext: { runAsNonRoot: true, runAsUser: NODE_UID, runAsGroup: NODE_UID, fsGroup: NODE_UID, seccompProfile: { type: 'RuntimeDefault' } },
          // Passed through as the user wrote them; the API server validates them.
          ...(podTemplate.nodeSelector === undefined ? {} : { nodeSelector: podTemplate.nodeSelector }),
          ...(podTemplate.tolerations === undefined ? {} : { tolerations: podTemplate.tolerations }),
          ...(podTemplate.affinity === undefined ? {} : { affinity: podTemplate.affinity }),
          // Spread nodes over hosts unless told otherwise: one host failing takes few sockets with it.
          topologySpreadConstraints: (podTemplate.topologySpreadConstraints as V1TopologySpreadConstraint[] | undefined) ?? [
            { maxSkew: 1, topologyKey: 'kubernetes.io/hostname', whenUnsatisfiable: 'ScheduleAnyway', labelSelector: { matchLabels: selector } },
          ],
          containers: [
            {
              name: 'chat-node',
              image,
              ports: [
                { name: publicPortName(cluster), containerPort: NODE_PORT },
                { name: 'admin', containerPort: ADMIN_PORT },
              ],
              envFrom: shared.envFrom,
              env: [
                { name: 'CHAT_NODE_ID', valueFrom: { fieldRef: { fieldPath: 'metadata.name' } } },
                { name: 'POD_IP', valueFrom: { fieldRef: { fieldPath: 'status.podIP' } } },
                { name: 'CHAT_ADVERTISE_ADDRESS', value: `$(POD_IP):${ADMIN_PORT}` },
                // For the CPU utilization `/load` reports (autoscaling's second signal); 0 without a request.
                { name: 'CHAT_CPU_REQUEST_MILLICORES', valueFrom: { resourceFieldRef: { containerName: 'chat-node', resource: 'requests.cpu', divisor: '1m' } } },
                ...env,
              ],
              readinessProbe: { httpGet: publicProbe(cluster, '/readyz'), periodSeconds: 5, failureThreshold: 2 },
              livenessProbe: { httpGet: publicProbe(cluster, '/healthz'), periodSeconds: 10, failureThreshold: 3 },
              startupProbe: { httpGet: publicProbe(cluster, '/healthz'), periodSeconds: 2, failureThreshold: 60 },
              // The node drains itself on SIGTERM; the pause first lets endpoints drop the pod.
              lifecycle: { preStop: { sleep: { seconds: PRE_STOP_SLEEP_SECONDS } } },
              ...resourceRequirements(cluster.spec.resources ?? DEFAULT_NODE_RESOURCES),
              securityContext: RESTRICTED_CONTAINER,
              volumeMounts: [{ name: 'tmp', mountPath: '/tmp' }, ...volumeMounts],
            },
          ],
          volumes: [{ name: 'tmp', emptyDir: { sizeLimit: '64Mi' } }, ...volumes],
        },
  };
}

/** The load-balanced public Service (WebSocket and HTTP API); never the admin port. */
export function desiredPublicService(cluster: ChatCluster): V1Service {
  const { service } = cluster.spec;
  return {
    apiVersion: 'v1',
    kind: 'Service',
    metadata: ownedMeta(cluster, namesOf(cluster).nodes, 'node', { annotations: service.annotations }),
    spec: {
      type: service.type,
      selector: selectorLabels(cluster, 'node'),
      ports: [publicServicePort(cluster)],
    },
  };
}

/** A headless Service naming each node pod (DNS), with the admin port for scraping. */
export function desiredHeadlessService(cluster: ChatCluster): V1Service {
  return {
    apiVersion: 'v1',
    kind: 'Service',
    metadata: ownedMeta(cluster, namesOf(cluster).headless, 'node'),
    spec: {
      clusterIP: 'None',
      selector: selectorLabels(cluster, 'node'),
      ports: [
        publicServicePort(cluster),
        { name: 'admin', port: ADMIN_PORT, targetPort: 'admin', protocol: 'TCP' },
      ],
    },
  };
}

/**
 * Voluntary disruptions (drains, upgrades) take one node at a time. The default
 * unhealthyPodEvictionPolicy stays: a node pod that is not ready may still hold its clients
 * (readiness fails while Redis or Cassandra does not answer), and AlwaysAllow would let a
 * drain evict every such pod at once.
 */
export function desiredNodeDisruptionBudget(cluster: ChatCluster): V1PodDisruptionBudget {
  return oneAtATimeDisruptionBudget(cluster, namesOf(cluster).nodes, 'node');
}
