import { z } from 'zod';

/**
 * The `ChatCluster` resource (chatcluster.dev/v1alpha1, CRD.md), as the operator reads
 * it. The CRD in crds/chatcluster.yaml is the API server's copy of the same schema; a test
 * keeps the two in agreement (fields, types, defaults, ranges).
 */
export const CHATCLUSTER_GROUP = 'chatcluster.dev';
export const CHATCLUSTER_VERSION = 'v1alpha1';
export const CHATCLUSTER_KIND = 'ChatCluster';
export const CHATCLUSTER_PLURAL = 'chatclusters';
export const CHATCLUSTER_API_VERSION = `${CHATCLUSTER_GROUP}/${CHATCLUSTER_VERSION}`;

/** A Cassandra keyspace name: what CQL takes unquoted (letters, digits, _; at most 48). */
export const CQL_IDENTIFIER = /^[a-zA-Z][a-zA-Z0-9_]{0,47}$/;

/** A Kubernetes resource quantity ("500m", "1Gi", 2). */
// Integer-or-string, as the CRD can hold it: no fractional numbers, binary suffixes end in i.
const Quantity = z.union([z.string().regex(/^[+-]?(\d+\.?\d*|\.\d+)([eE][+-]?\d+|[KMGTPE]i|[munkMGTPE])?$/), z.number().int()]);
const ResourceList = z.record(z.string(), Quantity);
const Resources = z.object({ limits: ResourceList.optional(), requests: ResourceList.optional() });
export type Resources = z.infer<typeof Resources>;

const SecretKeyRef = z.object({ name: z.string().min(1), key: z.string().min(1) });
export type SecretKeyRef = z.infer<typeof SecretKeyRef>;

/** Objects passed through to the pod spec as they are (the API server validates them). */
const PassThrough = z.record(z.string(), z.unknown());

/** How the managed Redis runs: one instance, or a primary with replicas watched by Sentinel. */
export const REDIS_MODES = ['standalone', 'sentinel'] as const;
export type RedisMode = (typeof REDIS_MODES)[number];

// Neither mode nor replicas has a default: a structural default would also apply to the
// ChatClusters already stored, so an operator upgrade would restructure a running Redis.
// The operator resolves them instead (operator/desired/redis-mode.ts).
const ManagedRedis = z.object({
  mode: z.enum(REDIS_MODES).optional(),
  replicas: z.number().int().min(1).max(7).optional(),
  storage: Quantity.default('1Gi'),
  resources: Resources.optional(),
});
/** Standalone (redis://, rediss://), Sentinel (redis+sentinel://) or Cluster (redis+cluster://): the node's CHAT_REDIS_URL forms. */
export const REDIS_URL = /^rediss?(\+sentinel|\+cluster)?:\/\//;
const ExternalRedis = z.object({
  url: z.string().regex(REDIS_URL),
  secretRef: SecretKeyRef.optional(),
  /** The PEM CA bundle a rediss:// server's certificate is checked against. */
  caSecretRef: SecretKeyRef.optional(),
});

/**
 * The most timer slack the managed Cassandra may be given: its worker pool's idle spin, the
 * sleeps the slack defers, ends within 10 ms of the last request, so more saves nothing.
 */
const MAX_CASSANDRA_TIMER_SLACK_US = 10_000;
const ManagedCassandra = z.object({
  replicas: z.number().int().min(1).max(99).default(3),
  storage: Quantity.default('10Gi'),
  replicationFactor: z.number().int().min(1).max(9).default(3),
  resources: Resources.optional(),
  /** The Cassandra process's timer slack (unset: the kernel's, 50 µs), set by operator/desired/cassandra-start.ts; the CRD's description says when it pays. */
  timerSlackMicroseconds: z.number().int().min(1).max(MAX_CASSANDRA_TIMER_SLACK_US).optional(),
});
const ExternalCassandra = z.object({
  contactPoints: z.array(z.string().regex(/^[^\s:,]+(:\d{1,5})?$/)).min(1),
  datacenter: z.string().min(1).default('datacenter1'),
  /** The replication the schema Job gives the keyspace when it creates it (an existing keyspace keeps its own). */
  replicationFactor: z.number().int().min(1).max(9).default(3),
  /** A Secret with the keys `username` and `password` (a kubernetes.io/basic-auth Secret): Cassandra's login. */
  secretRef: z.object({ name: z.string().min(1) }).optional(),
  /** Client encryption to the external Cassandra, checked against the CA bundle. */
  tls: z.object({ enabled: z.boolean().default(true), caSecretRef: SecretKeyRef.optional() }).optional(),
});

/** The cert-manager issuer kinds `tls.issuerRef` may name. */
export const ISSUER_KINDS = ['Issuer', 'ClusterIssuer'] as const;
/** Where the nodes' public certificate comes from: exactly one source (the CRD's rule says so). */
const Tls = z.object({
  secretName: z.string().min(1).max(253).optional(),
  issuerRef: z.object({ name: z.string().min(1), kind: z.enum(ISSUER_KINDS), group: z.string().min(1).optional() }).optional(),
  selfSigned: z.boolean().optional(),
  /** More names (public ones) the certificate of issuerRef or selfSigned covers. */
  dnsNames: z
    .array(z.string().max(253).regex(/^(\*\.)?[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$/))
    .max(20)
    .optional(),
});
const Encryption = z.object({
  atRest: z.object({ keysSecretRef: z.object({ name: z.string().min(1) }) }).optional(),
});

export const ChatClusterSpec = z.object({
  image: z.string().min(1).optional(),
  replicas: z.number().int().min(0).max(1000).default(3),
  autoscaling: z
    .object({
      enabled: z.boolean().default(true),
      minReplicas: z.number().int().min(1).max(1000).default(2),
      maxReplicas: z.number().int().min(1).max(1000).default(20),
      targetConnectionsPerNode: z.number().int().min(1).max(1_000_000).default(5000),
      targetCPUUtilization: z.number().int().min(1).max(100).default(70),
      scaleDownStabilizationSeconds: z.number().int().min(0).max(3600).default(300),
    })
    .default({
      enabled: true,
      minReplicas: 2,
      maxReplicas: 20,
      targetConnectionsPerNode: 5000,
      targetCPUUtilization: 70,
      scaleDownStabilizationSeconds: 300,
    }),
  redis: z
    .object({ managed: ManagedRedis.optional(), external: ExternalRedis.optional() })
    .default({ managed: { storage: '1Gi' } }),
  cassandra: z
    .object({ managed: ManagedCassandra.optional(), external: ExternalCassandra.optional(), keyspace: z.string().regex(CQL_IDENTIFIER).default('chat') })
    .default({ managed: { replicas: 3, storage: '10Gi', replicationFactor: 3 }, keyspace: 'chat' }),
  auth: z.object({ jwtSecretRef: SecretKeyRef.optional(), jwksURL: z.string().regex(/^https?:\/\//).optional() }).default({}),
  limits: z
    .object({
      maxFrameBytes: z.number().int().min(1024).max(16 * 1024 * 1024).default(65536),
      messagesPerSecondPerUser: z.number().int().min(1).max(100_000).default(20),
    })
    .default({ maxFrameBytes: 65536, messagesPerSecondPerUser: 20 }),
  service: z
    .object({
      type: z.enum(['ClusterIP', 'LoadBalancer', 'NodePort']).default('ClusterIP'),
      annotations: z.record(z.string(), z.string()).default({}),
    })
    .default({ type: 'ClusterIP', annotations: {} }),
  resources: Resources.optional(),
  podTemplate: z
    .object({
      nodeSelector: z.record(z.string(), z.string()).optional(),
      tolerations: z.array(PassThrough).optional(),
      affinity: PassThrough.optional(),
      topologySpreadConstraints: z.array(PassThrough).optional(),
      labels: z.record(z.string(), z.string()).optional(),
      annotations: z.record(z.string(), z.string()).optional(),
    })
    .default({}),
  monitoring: z.object({ serviceMonitor: z.enum(['auto', 'true', 'false']).default('auto') }).default({ serviceMonitor: 'auto' }),
  tls: Tls.optional(),
  encryption: Encryption.optional(),
});
/** A spec with every default applied (what the API server stores, given the CRD's defaults). */
export type ChatClusterSpec = z.infer<typeof ChatClusterSpec>;

export const CONDITION_TYPES = ['Ready', 'Progressing', 'Degraded', 'RedisReady', 'CassandraReady', 'SchemaReady'] as const;
export type ConditionType = (typeof CONDITION_TYPES)[number];

export interface Condition {
  type: ConditionType;
  status: 'True' | 'False' | 'Unknown';
  reason: string;
  message: string;
  lastTransitionTime: string;
  observedGeneration: number;
}

export type Phase = 'Pending' | 'Progressing' | 'Ready' | 'Degraded';

/** The managed Redis as the operator found it. */
export interface RedisStatus {
  /** The mode it runs in, as resolved from the spec (and, for an unset mode, the running Redis). */
  mode: RedisMode;
  /** The pod that is primary, when the operator could ask (Sentinel) or there is only one (standalone). */
  primary?: string;
}

export interface ChatClusterStatus {
  observedGeneration?: number;
  phase?: Phase;
  conditions?: Condition[];
  replicas?: number;
  readyReplicas?: number;
  connections?: number;
  selector?: string;
  endpoint?: string;
  redis?: RedisStatus;
}

/** A ChatCluster as read from the API server, spec already defaulted. */
export interface ChatCluster {
  apiVersion: typeof CHATCLUSTER_API_VERSION;
  kind: typeof CHATCLUSTER_KIND;
  metadata: { name: string; namespace: string; uid: string; generation: number; resourceVersion?: string; labels?: Record<string, string> };
  spec: ChatClusterSpec;
  status?: ChatClusterStatus;
}

/** Applies defaults and checks a spec as the operator reads it; throws a ZodError naming the field. */
export function parseChatClusterSpec(spec: unknown): ChatClusterSpec {
  return ChatClusterSpec.parse(spec ?? {});
}
