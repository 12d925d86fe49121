import type { Logger } from '../common/log.js';
import type { Bus } from './bus/bus.js';
import { MemoryBus } from './bus/memory-bus.js';
import type { NodeConfig } from './config.js';
import { MemoryStore } from './store/memory-store.js';
import type { Store } from './store/store.js';

/** The node's store and bus, and how to close them. */
export interface Backends {
  mode: 'embedded' | 'cluster';
  store: Store;
  bus: Bus;
  close(): Promise<void>;
}

/**
 * Redis and Cassandra when configured; otherwise the embedded in-process pair, which
 * says loudly that it is one node and keeps nothing.
 */
export function openBackends(config: NodeConfig, log: Logger): Promise<Backends> {
  if (config.redisUrl === undefined || config.cassandra === undefined) {
    log.warn('embedded mode: a single self-contained node with in-process bus and store; nothing is durable and no other node can join. Set CHAT_REDIS_URL and CHAT_CASSANDRA_CONTACT_POINTS for a cluster.');
    const store = new MemoryStore();
    const bus = new MemoryBus();
    return Promise.resolve({ mode: 'embedded', store, bus, close: async () => { await bus.close(); await store.close(); } });
  }
  return Promise.reject(new Error('cluster backends are wired in the next step'));
}

/** `migrate`: creates the keyspace and tables. */
export function runMigrations(_config: NodeConfig, _log: Logger): Promise<void> {
  return Promise.reject(new Error('migrate is wired in the next step'));
}
