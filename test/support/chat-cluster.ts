import { randomBytes } from 'node:crypto';
import { cassandraConnection } from '../../node/backends.js';
import { loadCassandraConfig } from '../../node/config.js';
import { cassandraClient } from '../../node/store/cassandra/client.js';
import type { TestEnvironment } from './env.js';
import { migrate, startNode, stopNode, type NodeProcess } from '../../dev/node-processes.js';

/** Chat nodes as processes on the test environment's Redis and Cassandra, isolated from other test files. */
export interface ChatCluster {
  nodes: NodeProcess[];
  /** The environment every node of this cluster runs with. */
  env: NodeJS.ProcessEnv;
  keyspace: string;
  redisKeyPrefix: string;
  addNode(): Promise<NodeProcess>;
  stop(): Promise<void>;
}

/**
 * Migrates a fresh keyspace, then starts `size` nodes on it with a Redis key prefix of
 * their own (node `i` with `perNodeEnv[i]` on top); `stop` stops the nodes and drops the keyspace.
 */
export async function startChatCluster(
  testEnv: Pick<TestEnvironment, 'CHAT_REDIS_URL' | 'CHAT_CASSANDRA_CONTACT_POINTS' | 'CHAT_CASSANDRA_DC'>,
  size: number,
  extraEnv: NodeJS.ProcessEnv = {},
  perNodeEnv: readonly NodeJS.ProcessEnv[] = [],
): Promise<ChatCluster> {
  const id = randomBytes(4).toString('hex');
  const keyspace = `chat_${id}`;
  const redisKeyPrefix = `test-${id}:`;
  const env: NodeJS.ProcessEnv = {
    ...process.env,
    CHAT_REDIS_URL: testEnv.CHAT_REDIS_URL,
    CHAT_CASSANDRA_CONTACT_POINTS: testEnv.CHAT_CASSANDRA_CONTACT_POINTS,
    CHAT_CASSANDRA_DC: testEnv.CHAT_CASSANDRA_DC,
    CHAT_CASSANDRA_KEYSPACE: keyspace,
    CHAT_REDIS_KEY_PREFIX: redisKeyPrefix,
    ...extraEnv,
  };
  await migrate(env);
  const nodes = await Promise.all(Array.from({ length: size }, (_, index) => startNode({ ...env, ...perNodeEnv[index] }, `node-${id}-${index}`)));
  let added = size;
  return {
    nodes,
    env,
    keyspace,
    redisKeyPrefix,
    async addNode() {
      const node = await startNode(env, `node-${id}-${added++}`);
      nodes.push(node);
      return node;
    },
    async stop() {
      await Promise.all(nodes.map((node) => stopNode(node)));
      // Reached as the nodes reach it (over TLS when they do).
      const client = cassandraClient(cassandraConnection(loadCassandraConfig(env)));
      try {
        await client.execute(`DROP KEYSPACE IF EXISTS ${keyspace}`);
      } finally {
        await client.shutdown();
      }
    },
  };
}
