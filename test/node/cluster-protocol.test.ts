import { describeProtocol } from '../contract/protocol-contract.js';
import { startChatCluster } from '../support/chat-cluster.js';
import { testEnvironment } from '../support/env.js';

// Three node processes on the real Redis and Cassandra; the suite spreads users across
// them, so every exchange crosses nodes through the bus.
describeProtocol('a three-node cluster on Redis and Cassandra', async () => {
  const cluster = await startChatCluster(testEnvironment(), 3);
  return { nodes: cluster.nodes, stop: () => cluster.stop() };
});
