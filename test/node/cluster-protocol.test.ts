import { describeProtocol } from '../contract/protocol-contract.js';
import { startChatCluster } from '../support/chat-cluster.js';
import { testEnvironment, type TestEnvironment } from '../support/env.js';

// Three node processes on the real Redis and Cassandra; the suite spreads users across
// them, so every exchange crosses nodes through the bus. Once per Redis mode: one server,
// behind Sentinel, on a Redis Cluster.
const modes: [string, (env: TestEnvironment) => string][] = [
  ['', (env) => env.CHAT_REDIS_URL],
  [' behind Redis Sentinel', (env) => env.CHAT_REDIS_SENTINEL_URL],
  [' on a Redis Cluster', (env) => env.CHAT_REDIS_CLUSTER_URL],
];
for (const [mode, redisUrl] of modes) {
  describeProtocol(`a three-node cluster on Redis and Cassandra${mode}`, async () => {
    const env = testEnvironment();
    const cluster = await startChatCluster({ ...env, CHAT_REDIS_URL: redisUrl(env) }, 3);
    return { nodes: cluster.nodes, stop: () => cluster.stop() };
  });
}
