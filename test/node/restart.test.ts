import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { askRedis } from '../../dev/env/redis.js';
import { startNode, stopNode, tokenFor } from '../../dev/node-processes.js';
import { cassandraConnection } from '../../node/backends.js';
import { BusKeys } from '../../node/bus/redis/keys.js';
import { loadCassandraConfig } from '../../node/config.js';
import { cassandraClient } from '../../node/store/cassandra/client.js';
import { startChatCluster, type ChatCluster } from '../support/chat-cluster.js';
import { ChatClient } from '../support/chat-client.js';
import { testEnvironment } from '../support/env.js';

describe('a node whose container is restarted in its pod (same node id) after a crash', () => {
  let cluster: ChatCluster;

  beforeAll(async () => {
    cluster = await startChatCluster(testEnvironment(), 2);
  });
  afterAll(async () => {
    await cluster.stop();
  });

  it('forgets its previous life’s routes, group entries and mapping rows as it starts: its users are offline, and watchers are told', async () => {
    const [crashing, staying] = cluster.nodes;
    if (crashing === undefined || staying === undefined) throw new Error('two nodes expected');
    const [user, group] = ['restart-user', 'restart-crew'];
    const watcher = await ChatClient.connect(staying.wsUrl, await tokenFor('restart-watcher'));
    const client = await ChatClient.connect(crashing.wsUrl, await tokenFor(user));
    expect(await client.request({ type: 'group.create', name: group })).toMatchObject({ type: 'group' });
    expect(await watcher.request({ type: 'presence.watch', users: [user] })).toMatchObject({ users: { [user]: 'online' } });

    // Killed (an OOM kill leaves nothing cleaned up) and started again at once under the same id,
    // well within its heartbeat's time to live, so no survivor takes it for dead.
    await stopNode(crashing, 'SIGKILL');
    const restarted = await startNode(cluster.env, crashing.id);
    cluster.nodes.push(restarted);

    await watcher.waitFor((frame) => frame.type === 'presence' && frame.user === user && frame.status === 'offline');
    expect(await watcher.request({ type: 'presence.watch', users: [user] })).toMatchObject({ users: { [user]: 'offline' } });
    const keys = new BusKeys(cluster.redisKeyPrefix);
    const routes = await askRedis(cluster.env.CHAT_REDIS_URL ?? '', async (redis) => ({
      sessions: await redis.exists(keys.sessions(user)),
      groupNodes: await redis.smembers(keys.groupNodes(group)),
      nodeSessions: await redis.exists(keys.nodeSessions(crashing.id)),
      nodeGroups: await redis.exists(keys.nodeGroups(crashing.id)),
    }));
    expect(routes).toEqual({ sessions: 0, groupNodes: [], nodeSessions: 0, nodeGroups: 0 });
    const cassandra = cassandraClient(cassandraConnection(loadCassandraConfig(cluster.env)));
    try {
      const rows = await cassandra.execute(`SELECT user_id FROM ${cluster.keyspace}.node_sessions WHERE node_id = ?`, [crashing.id], { prepare: true });
      expect(rows.rows).toEqual([]);
    } finally {
      await cassandra.shutdown();
    }
    watcher.close();
  });
});
