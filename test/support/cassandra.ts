import { randomBytes } from 'node:crypto';
import { Client } from 'cassandra-driver';
import { cassandraClient, type CassandraConnection } from '../../node/store/cassandra/client.js';
import { CassandraStore, type CassandraStoreOptions } from '../../node/store/cassandra/store.js';
import { migrate, simpleStrategy } from '../../node/store/schema.js';
import type { OpenedStore } from '../contract/store-contract.js';
import type { TestEnvironment } from './env.js';

/** How the tests reach the shared test Cassandra. */
export function cassandraConnection(env: TestEnvironment): CassandraConnection {
  return { contactPoints: env.CHAT_CASSANDRA_CONTACT_POINTS.split(','), localDataCenter: env.CHAT_CASSANDRA_DC };
}

/** A keyspace name of this run's own, so test files running side by side never meet. */
export function freshKeyspace(): string {
  return `store_${randomBytes(6).toString('hex')}`;
}

/** Migrates a fresh keyspace, opens a store on it; closing drops the keyspace. */
export async function openMigratedStore(env: TestEnvironment, options?: CassandraStoreOptions): Promise<OpenedStore & { keyspace: string; admin: Client }> {
  const cluster = cassandraConnection(env);
  const keyspace = freshKeyspace();
  const admin = cassandraClient(cluster);
  await migrate(admin, { keyspace, replication: simpleStrategy(1) });
  const store = await CassandraStore.connect({ ...cluster, keyspace }, options);
  return {
    store,
    keyspace,
    admin,
    async close() {
      await store.close();
      await admin.execute(`DROP KEYSPACE IF EXISTS ${keyspace}`);
      await admin.shutdown();
    },
  };
}

/** A keyspace of a test file's own, on the shared test Cassandra; dropped by `close`. */
export interface TestKeyspace {
  name: string;
  /** A client whose default keyspace is this one. */
  client: Client;
  close(): Promise<void>;
}

/**
 * Creates a fresh keyspace (replication 1, the test Cassandra has one node) so test files
 * running side by side never see each other's rows.
 */
export async function createTestKeyspace(env: TestEnvironment, prefix = 'test'): Promise<TestKeyspace> {
  const name = `${prefix}_${randomBytes(6).toString('hex')}`;
  const options = { contactPoints: env.CHAT_CASSANDRA_CONTACT_POINTS.split(','), localDataCenter: env.CHAT_CASSANDRA_DC };
  const admin = new Client(options);
  try {
    await admin.execute(
      `CREATE KEYSPACE ${name} WITH replication = {'class': 'SimpleStrategy', 'replication_factor': 1}`,
    );
  } finally {
    await admin.shutdown();
  }
  const client = new Client({ ...options, keyspace: name });
  await client.connect();
  return {
    name,
    client,
    async close() {
      await client.execute(`DROP KEYSPACE IF EXISTS ${name}`);
      await client.shutdown();
    },
  };
}
