import type { Logger } from '../common/log.js';
import type { Bus } from './bus/bus.js';
import { MemoryBus } from './bus/memory/bus.js';
import { connectRedisBus } from './bus/redis/bus.js';
import type { CassandraConfig, NodeConfig } from './config.js';
import { cassandraClient } from './store/cassandra/client.js';
import { CassandraStore } from './store/cassandra/store.js';
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
  const store = await withRetry('Cassandra', log, () =>
    CassandraStore.connect({ contactPoints: cassandra.contactPoints, localDataCenter: cassandra.datacenter, keyspace: cassandra.keyspace }),
  );
  const bus = await withRetry('Redis', log, () =>
    connectRedisBus(redisUrl, {
      prefix: config.redisKeyPrefix,
      onError: (error) => {
        log.warn({ err: error }, 'bus error (recovered)');
      },
    }),
  );
  return { mode: 'cluster', store, bus, close: () => Promise.all([bus.close(), store.close()]).then(() => undefined) };
}

/** `migrate`: creates the keyspace and every table, idempotently; safe to run again and concurrently. */
export async function runMigrations(cassandra: CassandraConfig, log: Logger): Promise<void> {
  const client = cassandraClient({ contactPoints: cassandra.contactPoints, localDataCenter: cassandra.datacenter });
  try {
    await withRetry('Cassandra', log, () => client.connect());
    await migrate(client, {
      keyspace: cassandra.keyspace,
      replication: networkTopologyStrategy({ [cassandra.datacenter]: cassandra.replicationFactor }),
    });
    log.info({ keyspace: cassandra.keyspace, replicationFactor: cassandra.replicationFactor }, 'schema is up to date');
  } finally {
    await client.shutdown();
  }
}

async function withRetry<T>(dependency: string, log: Logger, connect: () => Promise<T>): Promise<T> {
  for (let attempt = 1; ; attempt++) {
    try {
      return await connect();
    } catch (error) {
      const delay = Math.min(MAX_RETRY_DELAY_MS, 500 * 2 ** Math.min(attempt, 6));
      log.warn({ err: error, attempt, retryInMs: delay }, `${dependency} is not reachable yet`);
      await new Promise((resolve) => setTimeout(resolve, delay));
    }
  }
}
