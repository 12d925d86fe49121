import type { V1EnvVar, V1Volume, V1VolumeMount } from '@kubernetes/client-node';
import type { ChatCluster } from '../../common/chatcluster.js';
import { namesOf } from './meta.js';
import { managedRedisTls } from './redis-tls.js';
import { resolveManagedRedis } from './redis-mode.js';
import { managedCassandraTls } from './cassandra-tls.js';

/**
 * Where the chat containers find their certificates, CA bundles and at-rest keys. Each is a
 * whole Secret volume, never a subPath mount: the kubelet updates such a volume in place
 * when the Secret changes, and the node re-reads the files, so a renewed certificate or
 * an added key version takes effect without a restart (and the operator never puts a
 * Secret's contents into the pod template, so they roll no pods).
 */
export const TLS_DIR = '/etc/chat/tls';
export const AT_REST_KEYS_DIR = '/etc/chat/at-rest-keys';
export const REDIS_CA_DIR = '/etc/chat/redis-ca';
export const CASSANDRA_CA_DIR = '/etc/chat/cassandra-ca';
/** The file name a CA bundle is projected to, whatever its key in the user's Secret. */
const CA_FILE = 'ca.crt';

/** Private keys: readable by the node's group (the pod's fsGroup), by nobody else. */
const PRIVATE_MODE = 0o440;
/** CA bundles are public: readable by any user, so a pod without an fsGroup (the schema Job) reads them too. */
const PUBLIC_MODE = 0o444;

/** Environment, volumes and mounts that go together into a chat container's pod. */
export interface FileMounts {
  env: V1EnvVar[];
  volumes: V1Volume[];
  volumeMounts: V1VolumeMount[];
}

const NONE: FileMounts = { env: [], volumes: [], volumeMounts: [] };

/** Several FileMounts as one, in order. */
export function combineMounts(...parts: FileMounts[]): FileMounts {
  return {
    env: parts.flatMap((part) => part.env),
    volumes: parts.flatMap((part) => part.volumes),
    volumeMounts: parts.flatMap((part) => part.volumeMounts),
  };
}

/** One Secret mounted read-only as a directory (items: only those keys, under those names). */
function secretDirectory(volume: string, secretName: string, dir: string, mode: number, items?: { key: string; path: string }[]): Pick<FileMounts, 'volumes' | 'volumeMounts'> {
  return {
    volumes: [{ name: volume, secret: { secretName, defaultMode: mode, ...(items === undefined ? {} : { items }) } }],
    volumeMounts: [{ name: volume, mountPath: dir, readOnly: true }],
  };
}

/** The Secret the nodes' public certificate is read from: the user's, or the one the operator or cert-manager writes. */
export function servingSecretName(cluster: ChatCluster): string | undefined {
  const tls = cluster.spec.tls;
  if (tls === undefined) return undefined;
  return tls.secretName ?? namesOf(cluster).tls;
}

/** Whether the nodes' public port speaks TLS (wss://, https://). */
export function servesTls(cluster: ChatCluster): boolean {
  return cluster.spec.tls !== undefined;
}

/** The public certificate and key (kubernetes.io/tls keys), for the node containers. */
export function servingTlsMounts(cluster: ChatCluster): FileMounts {
  const secretName = servingSecretName(cluster);
  if (secretName === undefined) return NONE;
  return {
    env: [
      { name: 'CHAT_TLS_CERT_FILE', value: `${TLS_DIR}/tls.crt` },
      { name: 'CHAT_TLS_KEY_FILE', value: `${TLS_DIR}/tls.key` },
    ],
    ...secretDirectory('tls', secretName, TLS_DIR, PRIVATE_MODE),
  };
}

/** The at-rest keys Secret as a directory of v1, v2, ... files, for the nodes and the reseal Job. */
export function atRestKeyMounts(cluster: ChatCluster): FileMounts {
  const keys = cluster.spec.encryption?.atRest?.keysSecretRef;
  if (keys === undefined) return NONE;
  return {
    env: [{ name: 'CHAT_AT_REST_KEYS_DIR', value: AT_REST_KEYS_DIR }],
    ...secretDirectory('at-rest-keys', keys.name, AT_REST_KEYS_DIR, PRIVATE_MODE),
  };
}

/**
 * TLS towards Redis and Cassandra: the CA bundles to verify them and Cassandra's switch,
 * for every chat container that talks to them (nodes, schema Job, reseal Job). An external
 * Redis speaks TLS when its URL says rediss://; the CA only narrows whom the nodes trust.
 */
export function dependencyTlsMounts(cluster: ChatCluster): FileMounts {
  const parts: FileMounts[] = [];
  // An external Redis's CA is the user's; the managed one's is in the ChatCluster's certificate Secret.
  const managedRedisCa = managedRedisTls(cluster) === undefined || !runsRedis(cluster) ? undefined : { name: namesOf(cluster).tls, key: CA_FILE };
  const redisCa = cluster.spec.redis.external?.caSecretRef ?? managedRedisCa;
  if (redisCa !== undefined) {
    // The managed Sentinels listen on TLS only (their peers reach each other over TLS, on the port clients use).
    const sentinelTls = managedRedisCa !== undefined && resolveManagedRedis(cluster)?.mode === 'sentinel';
    parts.push({
      env: [{ name: 'CHAT_REDIS_CA_FILE', value: `${REDIS_CA_DIR}/${CA_FILE}` }, ...(sentinelTls ? [{ name: 'CHAT_REDIS_SENTINEL_TLS', value: 'true' }] : [])],
      ...secretDirectory('redis-ca', redisCa.name, REDIS_CA_DIR, PUBLIC_MODE, [{ key: redisCa.key, path: CA_FILE }]),
    });
  }
  // An external Cassandra's TLS is the user's to say; the managed one's follows the ChatCluster's certificate.
  const cassandraTls = runsCassandra(cluster) && managedCassandraTls(cluster) ? { enabled: true, caSecretRef: { name: namesOf(cluster).tls, key: CA_FILE } } : cluster.spec.cassandra.external?.tls;
  if (cassandraTls?.enabled === true) {
    const ca = cassandraTls.caSecretRef;
    parts.push({
      env: [{ name: 'CHAT_CASSANDRA_TLS', value: 'true' }, ...(ca === undefined ? [] : [{ name: 'CHAT_CASSANDRA_CA_FILE', value: `${CASSANDRA_CA_DIR}/${CA_FILE}` }])],
      ...(ca === undefined ? { volumes: [], volumeMounts: [] } : secretDirectory('cassandra-ca', ca.name, CASSANDRA_CA_DIR, PUBLIC_MODE, [{ key: ca.key, path: CA_FILE }])),
    });
  }
  return combineMounts(...parts);
}

/** A Service's names, short to fully qualified (the cluster domain is assumed to be cluster.local). */
function serviceNames(service: string, namespace: string): string[] {
  return [service, `${service}.${namespace}`, `${service}.${namespace}.svc`, `${service}.${namespace}.svc.cluster.local`];
}

/** The pods of a headless Service, each by its own name (`<pod>.<service>.<namespace>.svc`). */
function podNames(service: string, namespace: string): string[] {
  return [`*.${service}.${namespace}.svc`, `*.${service}.${namespace}.svc.cluster.local`];
}

/** Whether the operator runs the ChatCluster's Redis (managed, not external). */
export function runsRedis(cluster: ChatCluster): boolean {
  return cluster.spec.redis.managed !== undefined && cluster.spec.redis.external === undefined;
}

/** Whether the operator runs the ChatCluster's Cassandra (managed, not external). */
export function runsCassandra(cluster: ChatCluster): boolean {
  return cluster.spec.cassandra.managed !== undefined && cluster.spec.cassandra.external === undefined;
}

/**
 * Whether the operator itself keeps <name>-ca and signs <name>-tls: with spec.tls.selfSigned,
 * and with a certificate of the user's own (spec.tls.secretName) while it runs Redis or
 * Cassandra. That certificate is for the public names and its CA's key is not the
 * operator's, so the hops inside the cluster get a CA of the operator's own, as Strimzi's
 * cluster CA: spec.tls means TLS on every hop, whatever serves the public port.
 */
export function operatorSignsCertificate(cluster: ChatCluster): boolean {
  const tls = cluster.spec.tls;
  if (tls === undefined) return false;
  return tls.selfSigned === true || (tls.secretName !== undefined && (runsRedis(cluster) || runsCassandra(cluster)));
}

/**
 * The DNS names <name>-tls covers: the chat Services and each node pod, which serve it, and
 * spec.tls.dnsNames (unless spec.tls.secretName serves them, when it covers only the stores), and, when the
 * operator runs them, the Redis and Cassandra Services and pods, which serve TLS with it.
 */
export function certificateDnsNames(cluster: ChatCluster): string[] {
  const names = namesOf(cluster);
  const namespace = cluster.metadata.namespace;
  const tls = cluster.spec.tls;
  const servesNodes = tls?.secretName === undefined;
  return [
    ...(servesNodes ? [...serviceNames(names.nodes, namespace), ...serviceNames(names.headless, namespace), ...podNames(names.headless, namespace), ...(tls?.dnsNames ?? [])] : []),
    ...(runsRedis(cluster) ? [...serviceNames(names.redis, namespace), ...podNames(names.redis, namespace)] : []),
    ...(runsCassandra(cluster) ? [...serviceNames(names.cassandra, namespace), ...podNames(names.cassandra, namespace)] : []),
  ];
}
