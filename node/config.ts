import { hostname } from 'node:os';
import { z } from 'zod';
import { CQL_IDENTIFIER } from '../common/chatcluster.js';
import { ConfigError, portNumber, readVariable, wholeNumber } from '../common/env.js';
import type { AuthConfig } from './auth/tokens.js';
import { parseRedisAddress, RedisAddressError } from './bus/redis/address.js';
import type { OpeningLimits } from './server/opening-gate.js';
import type { CassandraCredentials } from './store/cassandra/client.js';
import { DEFAULT_MEMORY_STORE_BOUNDS, type MemoryStoreBounds } from './store/memory-store.js';

/** A chat node's configuration, read once at start from the environment. */
export interface NodeConfig {
  nodeId: string;
  port: number;
  adminPort: number;
  /** `host:adminPort` other nodes and the operator use, written to the node registry. */
  advertiseAddress: string;
  /** Standalone, Sentinel or Cluster (node/bus/redis/address.ts); unset together with `cassandra`: the embedded single node. */
  redisUrl: string | undefined;
  /** Prefix of every Redis key and channel, so several clusters can share one Redis. */
  redisKeyPrefix: string;
  cassandra: CassandraConfig | undefined;
  auth: AuthConfig;
  maxFrameBytes: number;
  messagesPerSecondPerUser: number;
  /** Clients of a draining node reconnect spread over this many milliseconds. */
  drainSpreadMs: number;
  /** Bytes a socket may have unsent before it is dropped as a slow consumer. */
  maxBufferedBytes: number;
  /** How often every socket is pinged; one that has not answered the previous ping is dropped. */
  pingIntervalMs: number;
  socketOpening: OpeningLimits;
  /** What the embedded node's in-memory store keeps (unused by a cluster node). */
  embeddedStore: MemoryStoreBounds;
  /** The container's CPU request, for the CPU utilization `/load` reports; unset (or 0): none reported. */
  cpuRequestMillicores: number | undefined;
  /** The public port serves HTTPS and wss:// from these PEM files (re-read when they change); unset: plain HTTP. */
  tls: { certFile: string; keyFile: string } | undefined;
  /** PEM bundle the Redis servers' certificates are checked against (rediss://); unset: the system's CAs. */
  redisCaFile: string | undefined;
  /** Sentinel mode: the sentinels listen on TLS too (the operator's managed Sentinels with spec.tls do). */
  redisSentinelTls: boolean;
}

export interface CassandraConfig {
  contactPoints: string[];
  datacenter: string;
  keyspace: string;
  /** Replication factor `migrate` creates the keyspace with. */
  replicationFactor: number;
  /**
   * How long a request waits for Cassandra's answer before it fails (`unavailable`). A write
   * that times out may still land: a send with an `idem` is then written again until it is
   * stored (UnsettledAppends), one without is refused.
   */
  requestTimeoutMs: number;
  /** Client encryption: the CA bundle the servers' certificates are checked against (undefined: the system's). */
  tls: { caFile: string | undefined } | undefined;
  /** A login for Cassandra's PasswordAuthenticator (undefined: none). */
  credentials: CassandraCredentials | undefined;
  /** Directory of at-rest keys `v1`, `v2`, … (node/at-rest/keyring.ts); unset: texts are stored as they are. */
  atRestKeysDir: string | undefined;
}

const hostPort = z.string().regex(/^[^\s:,]+:\d{1,5}$/, 'expected host:port');
const contactPoints = z
  .string()
  .transform((value) => value.split(',').map((point) => point.trim()).filter((point) => point !== ''))
  .pipe(z.array(hostPort).min(1, 'expected at least one host:port'));
/** Any URL the bus can use (standalone, Sentinel or Cluster: node/bus/redis/address.ts). */
const redisUrlSchema = z.string().superRefine((text, context) => {
  try {
    parseRedisAddress(text);
  } catch (error) {
    if (!(error instanceof RedisAddressError)) throw error;
    context.addIssue({ code: 'custom', message: error.message });
  }
});
const filePath = z.string().min(1);
const booleanText = z.enum(['true', 'false'], { error: 'expected true or false' }).transform((value) => value === 'true');
const identifier = z.string().regex(CQL_IDENTIFIER, 'expected a CQL identifier (letters, digits, _)');

/**
 * Reads and validates the node's environment variables. A bad value throws a
 * ConfigError that names the variable; nothing else reads `process.env`.
 */
export function loadNodeConfig(env: NodeJS.ProcessEnv): NodeConfig {
  const nodeId = readVariable(env, 'CHAT_NODE_ID', z.string().regex(/^[A-Za-z0-9._-]{1,128}$/, 'expected 1-128 of [A-Za-z0-9._-]').default(hostname()));
  const adminPort = readVariable(env, 'CHAT_ADMIN_PORT', portNumber.default(9090));
  // A Redis URL may carry a password: never echoed.
  const redisUrl = readVariable(env, 'CHAT_REDIS_URL', redisUrlSchema.optional(), { secret: true });
  const points = readVariable(env, 'CHAT_CASSANDRA_CONTACT_POINTS', contactPoints.optional());
  if ((redisUrl === undefined) !== (points === undefined)) {
    const missing = redisUrl === undefined ? 'CHAT_REDIS_URL' : 'CHAT_CASSANDRA_CONTACT_POINTS';
    throw new ConfigError(missing, 'a cluster node needs both Redis and Cassandra (set neither for the embedded single node)');
  }
  return {
    nodeId,
    port: readVariable(env, 'CHAT_PORT', portNumber.default(8080)),
    adminPort,
    advertiseAddress: readVariable(env, 'CHAT_ADVERTISE_ADDRESS', hostPort.default(`${nodeId}:${adminPort}`)),
    redisUrl,
    redisKeyPrefix: readVariable(env, 'CHAT_REDIS_KEY_PREFIX', z.string().regex(/^[A-Za-z0-9:._-]{1,64}$/, 'expected 1-64 of [A-Za-z0-9:._-]').default('chat:')),
    cassandra: points === undefined ? undefined : loadCassandraConfig(env),
    auth: readAuth(env),
    maxFrameBytes: readVariable(env, 'CHAT_MAX_FRAME_BYTES', wholeNumber(1024, 16 * 1024 * 1024).default(65536)),
    messagesPerSecondPerUser: readVariable(env, 'CHAT_MESSAGES_PER_SECOND', wholeNumber(1, 100_000).default(20)),
    drainSpreadMs: readVariable(env, 'CHAT_DRAIN_SPREAD_MS', wholeNumber(0, 600_000).default(10_000)),
    maxBufferedBytes: readVariable(env, 'CHAT_MAX_BUFFERED_BYTES', wholeNumber(64 * 1024).default(4 * 1024 * 1024)),
    pingIntervalMs: readVariable(env, 'CHAT_PING_INTERVAL_MS', wholeNumber(1_000, 3_600_000).default(30_000)),
    socketOpening: {
      atOnce: readVariable(env, 'CHAT_SOCKETS_OPENING_AT_ONCE', wholeNumber(1, 100_000).default(128)),
      maxWaiting: readVariable(env, 'CHAT_SOCKETS_WAITING_MAX', wholeNumber(0, 1_000_000).default(5_000)),
    },
    embeddedStore: {
      maxMessagesPerConversation: readVariable(
        env,
        'CHAT_EMBEDDED_MAX_MESSAGES_PER_CONVERSATION',
        wholeNumber(1, 10_000_000).default(DEFAULT_MEMORY_STORE_BOUNDS.maxMessagesPerConversation),
      ),
      // At least 1 MiB, so one message of the largest frame always fits.
      maxBytes: readVariable(env, 'CHAT_EMBEDDED_MAX_BYTES', wholeNumber(1024 * 1024).default(DEFAULT_MEMORY_STORE_BOUNDS.maxBytes)),
    },
    // The Downward API gives 0 for a container without a CPU request.
    cpuRequestMillicores: readVariable(env, 'CHAT_CPU_REQUEST_MILLICORES', wholeNumber(0, 1_000_000).default(0)) || undefined,
    tls: readServerTls(env),
    redisCaFile: readVariable(env, 'CHAT_REDIS_CA_FILE', filePath.optional()),
    redisSentinelTls: readVariable(env, 'CHAT_REDIS_SENTINEL_TLS', booleanText.default(false)),
  };
}

/** The Cassandra settings alone: all that `migrate` needs. */
export function loadCassandraConfig(env: NodeJS.ProcessEnv): CassandraConfig {
  return {
    contactPoints: readVariable(env, 'CHAT_CASSANDRA_CONTACT_POINTS', contactPoints),
    datacenter: readVariable(env, 'CHAT_CASSANDRA_DC', z.string().min(1).default('datacenter1')),
    keyspace: readVariable(env, 'CHAT_CASSANDRA_KEYSPACE', identifier.default('chat')),
    replicationFactor: readVariable(env, 'CHAT_CASSANDRA_REPLICATION_FACTOR', wholeNumber(1, 9).default(1)),
    // At most 20 s: a send's two writes then end within the 60 s its pending `idem` lasts.
    requestTimeoutMs: readVariable(env, 'CHAT_CASSANDRA_REQUEST_TIMEOUT_MS', wholeNumber(100, 20_000).default(12_000)),
    tls: readCassandraTls(env),
    credentials: readCassandraCredentials(env),
    atRestKeysDir: readVariable(env, 'CHAT_AT_REST_KEYS_DIR', filePath.optional()),
  };
}

function readServerTls(env: NodeJS.ProcessEnv): NodeConfig['tls'] {
  const certFile = readVariable(env, 'CHAT_TLS_CERT_FILE', filePath.optional());
  const keyFile = readVariable(env, 'CHAT_TLS_KEY_FILE', filePath.optional());
  if ((certFile === undefined) !== (keyFile === undefined)) {
    throw new ConfigError(certFile === undefined ? 'CHAT_TLS_CERT_FILE' : 'CHAT_TLS_KEY_FILE', 'set both CHAT_TLS_CERT_FILE and CHAT_TLS_KEY_FILE, or neither');
  }
  return certFile === undefined || keyFile === undefined ? undefined : { certFile, keyFile };
}

function readCassandraTls(env: NodeJS.ProcessEnv): CassandraConfig['tls'] {
  const caFile = readVariable(env, 'CHAT_CASSANDRA_CA_FILE', filePath.optional());
  const enabled = readVariable(env, 'CHAT_CASSANDRA_TLS', booleanText.default(caFile !== undefined));
  if (!enabled && caFile !== undefined) throw new ConfigError('CHAT_CASSANDRA_TLS', 'is false but CHAT_CASSANDRA_CA_FILE is set');
  return enabled ? { caFile } : undefined;
}

function readCassandraCredentials(env: NodeJS.ProcessEnv): CassandraConfig['credentials'] {
  const username = readVariable(env, 'CHAT_CASSANDRA_USERNAME', z.string().min(1).optional());
  const password = readVariable(env, 'CHAT_CASSANDRA_PASSWORD', z.string().min(1).optional(), { secret: true });
  if ((username === undefined) !== (password === undefined)) {
    throw new ConfigError(username === undefined ? 'CHAT_CASSANDRA_USERNAME' : 'CHAT_CASSANDRA_PASSWORD', 'set both CHAT_CASSANDRA_USERNAME and CHAT_CASSANDRA_PASSWORD, or neither');
  }
  return username === undefined || password === undefined ? undefined : { username, password };
}

function readAuth(env: NodeJS.ProcessEnv): AuthConfig {
  const secret = readVariable(env, 'CHAT_JWT_SECRET', z.string().min(32, 'an HS256 secret needs at least 32 characters').optional(), { secret: true });
  const jwksUrl = readVariable(env, 'CHAT_JWT_JWKS_URL', z.url({ protocol: /^https?$/, error: 'expected an http(s) URL' }).optional());
  if (secret !== undefined && jwksUrl !== undefined) {
    throw new ConfigError('CHAT_JWT_JWKS_URL', 'set CHAT_JWT_SECRET or CHAT_JWT_JWKS_URL, not both');
  }
  if (secret !== undefined) return { kind: 'secret', secret };
  if (jwksUrl !== undefined) return { kind: 'jwks', url: jwksUrl };
  throw new ConfigError('CHAT_JWT_SECRET', 'set CHAT_JWT_SECRET (HS256) or CHAT_JWT_JWKS_URL (RS256/ES256)');
}
