import { Client, types } from 'cassandra-driver';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createTestKeyspace, type TestKeyspace } from '../support/cassandra.js';
import { testEnvironment } from '../support/env.js';

describe('the test environment’s Cassandra', () => {
  const env = testEnvironment();
  let keyspace: TestKeyspace;

  beforeAll(async () => {
    keyspace = await createTestKeyspace(env, 'testenv');
  });
  afterAll(async () => {
    await keyspace.close();
  });

  it('is Apache Cassandra 5.0 in the advertised datacenter', async () => {
    const row = (await keyspace.client.execute('SELECT release_version, data_center FROM system.local')).first();
    expect(row.get('release_version')).toMatch(/^5\.0\.\d+$/);
    expect(row.get('data_center')).toBe(env.CHAT_CASSANDRA_DC);
  });

  it('creates a table in a keyspace of this file’s own and reads a row back', async () => {
    await keyspace.client.execute('CREATE TABLE greetings (id timeuuid PRIMARY KEY, text text)');
    const id = types.TimeUuid.now();
    await keyspace.client.execute('INSERT INTO greetings (id, text) VALUES (?, ?)', [id, 'hello'], { prepare: true });
    const result = await keyspace.client.execute('SELECT text FROM greetings WHERE id = ?', [id], { prepare: true });
    expect(result.rows.map((row) => row.get('text') as string)).toEqual(['hello']);
  });

  it('gives each test file a keyspace the others cannot see', async () => {
    const other = await createTestKeyspace(env, 'testenv');
    try {
      expect(other.name).not.toBe(keyspace.name);
      const client = new Client({ contactPoints: [env.CHAT_CASSANDRA_CONTACT_POINTS], localDataCenter: env.CHAT_CASSANDRA_DC });
      const tables = await client.execute('SELECT table_name FROM system_schema.tables WHERE keyspace_name = ?', [other.name]);
      await client.shutdown();
      expect(tables.rowLength).toBe(0);
    } finally {
      await other.close();
    }
  });
});
