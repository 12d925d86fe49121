import { readFileSync } from 'node:fs';
import { ConfigError } from '../common/env.js';
import type { Logger } from '../common/log.js';
import type { Bus } from './bus/bus.js';
import { MemoryBus } from './bus/memory/bus.js';
import { connectRedisBus } from './bus/redis/bus.js';
import type { CassandraConfig, NodeConfig } from './config.js';
import { Keyring, KeyringError, readKeyDirectory } from './at-rest/keyring.js';
import { TextSealer } from './at-rest/text-sealer.js';
import { cassandraClient, type CassandraConnection } from './store/cassandra/client.js';
import { resealMessages, type ResealReport } from './store/cassandra/reseal.js';
import { CassandraStore } from './store/cassandra/store.js';
import { refusedLogin } from './store/cassandra/errors.js';
import { MemoryStore } from './store/memory-store.js';
import { migrate, networkTopologyStrategy } from './store/schema.js';
import type { Store } from './store/store.js';

/** The node's store and bus, and how to close them. */
export interface Backends {
  mode: 'embedded' | 'cluster';
  store: Store;
  bus: Bus;
  close(): Promise<void>;
}

const MAX_RETRY_DELAY_MS = 30_000;

/**
 * Redis and Cassandra when configured (waiting, with back-off, until both answer: a pod
 * may start before its dependencies); otherwise the embedded in-process pair, which says
 * loudly that it is one node and keeps nothing.
 */
export async function openBackends(config: NodeConfig, log: Logger): Promise<Backends> {
  const { redisUrl, cassandra } = config;
  if (redisUrl === undefined || cassandra === undefined) {
    log.warn(
      { keeps: config.embeddedStore },
      'embedded mode: a single self-contained node with in-process bus and store; nothing is durable and no other node can join; ' +
        'the store keeps the newest messages up to its bounds. ' +
        'Set CHAT_REDIS_URL and CHAT_CASSANDRA_CONTACT_POINTS for a cluster.',
    );
    const store = new MemoryStore({
      bounds: config.embeddedStore,
      onFirstDrop: (reason, bounds) => {
        log.warn(
          { reason, ...bounds },
          reason === 'total'
            ? 'embedded store is full: dropping the oldest messages from now on (CHAT_EMBEDDED_MAX_BYTES)'
            : 'embedded store: a conversation is full, dropping its oldest messages from now on (CHAT_EMBEDDED_MAX_MESSAGES_PER_CONVERSATION)',
        );
      },
    });
    const bus = new MemoryBus();
    return { mode: 'embedded', store, bus, close: () => Promise.all([bus.close(), store.close()]).then(() => undefined) };
  }
  const keys = openTextSealer(cassandra, log);
  const store = await withCassandraRetry(log, () => CassandraStore.connect(cassandraConnection(cassandra, cassandra.keyspace), { sealer: keys?.sealer }));
  const redisCa = config.redisCaFile === undefined ? undefined : readPem(config.redisCaFile, 'CHAT_REDIS_CA_FILE');
  const bus = await withRetry('Redis', log, () =>
    connectRedisBus(redisUrl, {
      prefix: config.redisKeyPrefix,
      tls: redisCa === undefined ? undefined : { ca: redisCa },
      sentinelTls: config.redisSentinelTls,
      onError: (error) => {
        log.warn({ err: error }, 'bus error (recovered)');
      },
    }),
  );
  return {
    mode: 'cluster',
    store,
    bus,
    close: async () => {
      keys?.stop();
      await Promise.all([bus.close(), store.close()]);
    },
  };
}

/** How often the at-rest keys directory is read again, so a key added to the Secret is used without a restart. */
const KEYS_REFRESH_MS = 30_000;

/** The sealer of message texts when at-rest keys are configured, its keys re-read every 30 s until `stop`. */
export function openTextSealer(cassandra: CassandraConfig, log: Logger): { sealer: TextSealer; stop(): void } | undefined {
  const dir = cassandra.atRestKeysDir;
  if (dir === undefined) return undefined;
  let known = '';
  let keyring: Keyring;
  try {
    keyring = new Keyring(() => readKeyDirectory(dir), {
      onRefreshError: (error) => {
        log.error({ err: error, dir }, 'at-rest keys could not be read again; keeping the keys read before');
      },
    });
  } catch (error) {
    if (error instanceof KeyringError) throw new ConfigError('CHAT_AT_REST_KEYS_DIR', error.message);
    throw error;
  }
  const report = (): void => {
    const versions = keyring.versions.join(',');
    if (versions !== known) log.info({ versions: keyring.versions, sealsWith: keyring.newest.version }, 'at-rest keys');
    known = versions;
  };
  report();
  const timer = setInterval(() => {
    keyring.refresh();
    report();
  }, KEYS_REFRESH_MS).unref();
  return {
    sealer: new TextSealer(keyring),
    stop: () => {
      clearInterval(timer);
    },
  };
}

/** The driver's connection settings of a configured cluster, the CA bundle read from its file. */
export function cassandraConnection(cassandra: CassandraConfig, keyspace?: string): CassandraConnection {
  const { tls, credentials } = cassandra;
  return {
    contactPoints: cassandra.contactPoints,
    localDataCenter: cassandra.datacenter,
    readTimeoutMs: cassandra.requestTimeoutMs,
    ...(keyspace === undefined ? {} : { keyspace }),
    ...(credentials === undefined ? {} : { credentials }),
    ...(tls === undefined ? {} : { tls: { ca: tls.caFile === undefined ? undefined : readPem(tls.caFile, 'CHAT_CASSANDRA_CA_FILE') } }),
  };
}

/** A PEM file named by a variable; a missing or non-PEM file is a ConfigError naming it. */
function readPem(file: string, variable: string): string {
  let content: string;
  try {
    content = readFileSync(file, 'utf8');
  } catch (error) {
    throw new ConfigError(variable, `cannot read ${file}: ${(error as Error).message}`);
  }
  if (!content.includes('-----BEGIN CERTIFICATE-----')) throw new ConfigError(variable, `${file} holds no PEM certificate`);
  return content;
}

/** `migrate`: creates the keyspace and every table, idempotently; safe to run again and concurrently. */
export async function runMigrations(cassandra: CassandraConfig, log: Logger): Promise<void> {
  const client = cassandraClient(cassandraConnection(cassandra));
  try {
    await withCassandraRetry(log, () => client.connect());
    await migrate(client, {
      keyspace: cassandra.keyspace,
      replication: networkTopologyStrategy({ [cassandra.datacenter]: cassandra.replicationFactor }),
    });
    log.info({ keyspace: cassandra.keyspace, replicationFactor: cassandra.replicationFactor }, 'schema is up to date');
  } finally {
    await client.shutdown();
  }
}

/**
 * `reseal`: seals every stored message with the newest at-rest key (plaintext ones and
 * those under older keys), so an older key can be removed once it reports done.
 */
export async function runReseal(cassandra: CassandraConfig, log: Logger): Promise<ResealReport> {
  const keys = openTextSealer(cassandra, log);
  if (keys === undefined) throw new ConfigError('CHAT_AT_REST_KEYS_DIR', 'reseal needs the at-rest keys');
  keys.stop();
  const client = cassandraClient(cassandraConnection(cassandra, cassandra.keyspace));
  try {
    await withCassandraRetry(log, () => client.connect());
    const report = await resealMessages(client, keys.sealer, {
      onPage: (progress) => {
        log.info(progress, 'resealing');
      },
    });
    log.info(report, `every message is sealed with at-rest key v${report.keyVersion}; older keys may be removed once every node has this one`);
    return report;
  } finally {
    await client.shutdown();
  }
}

/** withRetry for Cassandra: a refused login stops it at once, as the configuration error it is. */
function withCassandraRetry<T>(log: Logger, connect: () => Promise<T>): Promise<T> {
  return withRetry('Cassandra', log, connect, (error) => {
    const refusal = refusedLogin(error);
    return refusal === undefined ? undefined : new ConfigError('CHAT_CASSANDRA_USERNAME', `Cassandra refused the login (CHAT_CASSANDRA_USERNAME and CHAT_CASSANDRA_PASSWORD): ${refusal}`);
  });
}

/**
 * Connects, retrying while the dependency is away (it may start after the node), except for
 * a failure `fatal` turns into the error to stop with: waiting does not mend those.
 */
async function withRetry<T>(dependency: string, log: Logger, connect: () => Promise<T>, fatal: (error: unknown) => Error | undefined = () => undefined): Promise<T> {
  for (let attempt = 1; ; attempt++) {
    try {
      return await connect();
    } catch (error) {
      const stop = fatal(error);
      if (stop !== undefined) throw stop;
      const delay = Math.min(MAX_RETRY_DELAY_MS, 500 * 2 ** Math.min(attempt, 6));
      log.warn({ err: error, attempt, retryInMs: delay }, `${dependency} is not reachable yet`);
      await new Promise((resolve) => setTimeout(resolve, delay));
    }
  }
}
