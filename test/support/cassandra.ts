import { randomBytes } from 'node:crypto';
import { Client } from 'cassandra-driver';
import type { TestEnvironment } from './env.js';

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
