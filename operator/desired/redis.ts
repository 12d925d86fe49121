import type { V1Container, V1EnvVar, V1PodDisruptionBudget, V1PodSpec, V1Service, V1StatefulSet, V1StatefulSetSpec, V1VolumeMount } from '@kubernetes/client-node';
import type { ChatCluster, RedisMode } from '../../common/chatcluster.js';
import { dataVolumeClaim, DEPENDENCY_POD_SECURITY, KEEP_VOLUMES, REDIS_IMAGE, spreadOverHosts } from './dependencies.js';
import { namesOf, oneAtATimeDisruptionBudget, ownedMeta, REDIS_PORT, resourceRequirements, selectorLabels, SENTINEL_PORT } from './meta.js';
import { resolveManagedRedis, SENTINEL_CONTAINER, type ResolvedManagedRedis } from './redis-mode.js';
import { redisHandOverScript, redisStartScript, sentinelStartScript } from './redis-scripts.js';
import { managedRedisTls, redisCertificateReloadLoop, redisTlsConfigLines, redisTlsVolume, sentinelCertificateRecord, type RedisTls } from './redis-tls.js';

/** The Sentinels' name for the primary they watch (one set of Sentinels per ChatCluster). */
export const REDIS_MASTER_NAME = 'chat';

/** The managed Redis's objects: a PodDisruptionBudget only with Sentinel, where a pod may go at a time. */
export interface DesiredRedis {
  mode: RedisMode;
  statefulSet: V1StatefulSet;
  service: V1Service;
  disruptionBudget?: V1PodDisruptionBudget;
}

const CONTAINER_SECURITY = { allowPrivilegeEscalation: false, readOnlyRootFilesystem: true, capabilities: { drop: ['ALL'] } };
const DATA_MOUNT: V1VolumeMount[] = [{ name: 'data', mountPath: '/data' }];

/** The stable DNS name of one pod of a Sentinel-managed Redis (through its headless Service). */
export function redisPodHost(cluster: ChatCluster, ordinal: number): string {
  return `${namesOf(cluster).redis}-${ordinal}.${namesOf(cluster).redis}.${cluster.metadata.namespace}.svc`;
}

/** `host:port` of each Sentinel of a Sentinel-managed Redis, one beside each Redis pod. */
export function sentinelAddresses(cluster: ChatCluster, managed: ResolvedManagedRedis): string[] {
  return Array.from({ length: managed.replicas }, (_, ordinal) => `${redisPodHost(cluster, ordinal)}:${SENTINEL_PORT}`);
}

/** The node's CHAT_REDIS_URL for the managed Redis: its Service, or the Sentinels beside each pod. */
export function managedRedisUrl(cluster: ChatCluster, managed: ResolvedManagedRedis): string {
  const scheme = managedRedisTls(cluster) === undefined ? 'redis' : 'rediss';
  if (managed.mode === 'standalone') return `${scheme}://${namesOf(cluster).redis}.${cluster.metadata.namespace}.svc:${REDIS_PORT}`;
  return `${scheme}+sentinel://${sentinelAddresses(cluster, managed).join(',')}/${REDIS_MASTER_NAME}`;
}

/** The managed Redis, standalone or with Sentinel (resolveManagedRedis decides which); undefined when external. */
export function desiredRedis(cluster: ChatCluster): DesiredRedis | undefined {
  const managed = resolveManagedRedis(cluster);
  if (managed === undefined) return undefined;
  return managed.mode === 'standalone' ? standaloneRedis(cluster, managed) : sentinelRedis(cluster, managed);
}

/** The Redis container of either mode; how it starts (`args`, or a script and its env) is the mode's. */
function redisContainer(managed: ResolvedManagedRedis, start: Pick<V1Container, 'args' | 'command' | 'env' | 'lifecycle'>, tls: RedisTls | undefined): V1Container {
  return {
    name: 'redis',
    image: REDIS_IMAGE,
    ...start,
    ports: [{ name: 'redis', containerPort: REDIS_PORT }],
    readinessProbe: { exec: { command: tls === undefined ? ['redis-cli', 'ping'] : ['sh', '-c', `redis-cli ${tls.cliFlags} ping`] }, periodSeconds: 5 },
    livenessProbe: { tcpSocket: { port: 'redis' }, periodSeconds: 10 },
    volumeMounts: tlsMounts(DATA_MOUNT, tls),
    securityContext: CONTAINER_SECURITY,
    ...resourceRequirements(managed.resources),
  };
}

/** The data mount, and with TLS the certificate's. */
function tlsMounts(mounts: V1VolumeMount[], tls: RedisTls | undefined): V1VolumeMount[] {
  return tls === undefined ? mounts : [...mounts, { name: 'tls', mountPath: tls.dir, readOnly: true }];
}

/** A StatefulSet of the managed Redis: what both modes share (name, volumes, security, storage). */
function redisStatefulSet(cluster: ChatCluster, managed: ResolvedManagedRedis, podSpec: Pick<V1PodSpec, 'containers' | 'affinity'>, extra: Partial<V1StatefulSetSpec> = {}): V1StatefulSet {
  const tls = managedRedisTls(cluster);
  const name = namesOf(cluster).redis;
  const selector = selectorLabels(cluster, 'redis');
  return {
    apiVersion: 'apps/v1',
    kind: 'StatefulSet',
    metadata: ownedMeta(cluster, name, 'redis'),
    spec: {
      serviceName: name,
      replicas: managed.replicas,
      selector: { matchLabels: selector },
      persistentVolumeClaimRetentionPolicy: KEEP_VOLUMES,
      template: {
        metadata: { labels: ownedMeta(cluster, name, 'redis').labels },
        spec: {
          automountServiceAccountToken: false,
          securityContext: DEPENDENCY_POD_SECURITY,
          ...podSpec,
          ...(tls === undefined ? {} : { volumes: [redisTlsVolume(cluster).volume] }),
        },
      },
      volumeClaimTemplates: [dataVolumeClaim(selector, managed.storage)],
      ...extra,
    },
  };
}

/** Standalone: one pod with an append-only file on a persistent volume, behind a ClusterIP Service. */
function standaloneRedis(cluster: ChatCluster, managed: ResolvedManagedRedis): DesiredRedis {
  const name = namesOf(cluster).redis;
  const tls = managedRedisTls(cluster);
  const args = ['--appendonly', 'yes', '--dir', '/data', '--protected-mode', 'no'];
  const statefulSet = redisStatefulSet(cluster, managed, {
    containers: [
      tls === undefined
        ? redisContainer(managed, { args }, tls)
        : // The same flags as a config file's lines, and the reload loop before redis-server replaces the shell.
          redisContainer(managed, {
            command: ['/bin/sh', '-c', `${redisCertificateReloadLoop(tls, REDIS_PORT)}exec redis-server ${[...args, ...redisTlsConfigLines(tls, REDIS_PORT).flatMap((line) => line.split(' ').map((word, index) => (index === 0 ? `--${word}` : word)))].join(' ')}`],
          }, tls),
    ],
  });
  const service: V1Service = {
    apiVersion: 'v1',
    kind: 'Service',
    metadata: ownedMeta(cluster, name, 'redis'),
    spec: { selector: selectorLabels(cluster, 'redis'), ports: [{ name: 'redis', port: REDIS_PORT, targetPort: 'redis' }] },
  };
  return { mode: 'standalone', statefulSet, service };
}

/**
 * Sentinel: `replicas` pods, each a Redis (one primary, the rest its replicas) and a
 * Sentinel, a majority of which must agree before a replica is promoted. Pods start in
 * order (the first is primary when no Sentinel knows one), are spread over hosts when
 * there are several, and one at a time may be disrupted.
 */
function sentinelRedis(cluster: ChatCluster, managed: ResolvedManagedRedis): DesiredRedis {
  const name = namesOf(cluster).redis;
  const tls = managedRedisTls(cluster);
  const sentinelCli = tls === undefined ? ['redis-cli', '-p', String(SENTINEL_PORT), 'ping'] : ['sh', '-c', `redis-cli ${tls.cliFlags} -p ${SENTINEL_PORT} ping`];
  const selector = selectorLabels(cluster, 'redis');
  const quorum = Math.floor(managed.replicas / 2) + 1;
  const env: V1EnvVar[] = [
    { name: 'POD_NAME', valueFrom: { fieldRef: { fieldPath: 'metadata.name' } } },
    { name: 'PEER_DOMAIN', value: `${name}.${cluster.metadata.namespace}.svc` },
    { name: 'SENTINELS', value: Array.from({ length: managed.replicas }, (_, ordinal) => redisPodHost(cluster, ordinal)).join(' ') },
    { name: 'MASTER_NAME', value: REDIS_MASTER_NAME },
    { name: 'FIRST_POD', value: `${name}-0` },
  ];
  const statefulSet = redisStatefulSet(cluster, managed, {
    affinity: spreadOverHosts(selector),
    containers: [
      redisContainer(managed, {
        command: ['/bin/sh', '-c', redisStartScript(REDIS_PORT, SENTINEL_PORT, tls)],
        env,
        lifecycle: { preStop: { exec: { command: ['/bin/sh', '-c', redisHandOverScript(REDIS_PORT, SENTINEL_PORT, tls)] } } },
      }, tls),
      {
        name: SENTINEL_CONTAINER,
        image: REDIS_IMAGE,
        command: ['/bin/sh', '-c', sentinelStartScript(REDIS_PORT, SENTINEL_PORT, quorum, tls)],
        env,
        ports: [{ name: 'sentinel', containerPort: SENTINEL_PORT }],
        readinessProbe: { exec: { command: sentinelCli }, periodSeconds: 5 },
        livenessProbe:
          tls === undefined
            ? { tcpSocket: { port: 'sentinel' }, periodSeconds: 10 }
            : // Fails once the certificate was renewed, so the kubelet restarts this container to load it.
              { exec: { command: ['sh', '-c', sentinelCertificateRecord(tls, '/data').liveness] }, periodSeconds: 30 },
        volumeMounts: tlsMounts(DATA_MOUNT, tls),
        securityContext: CONTAINER_SECURITY,
        resources: { requests: { cpu: '10m', memory: '16Mi' }, limits: { memory: '64Mi' } },
      },
    ],
  }, {
    // What a standalone StatefulSet has by default (the field cannot change, and a mode may).
    podManagementPolicy: 'OrderedReady',
  });
  const service: V1Service = {
    apiVersion: 'v1',
    kind: 'Service',
    metadata: ownedMeta(cluster, name, 'redis'),
    spec: {
      // Headless, for each pod's stable name; not-ready pods too, or a starting pod could not find the others.
      clusterIP: 'None',
      publishNotReadyAddresses: true,
      selector,
      ports: [
        { name: 'redis', port: REDIS_PORT, targetPort: 'redis' },
        { name: 'sentinel', port: SENTINEL_PORT, targetPort: 'sentinel' },
      ],
    },
  };
  return { mode: 'sentinel', statefulSet, service, disruptionBudget: oneAtATimeDisruptionBudget(cluster, name, 'redis') };
}
