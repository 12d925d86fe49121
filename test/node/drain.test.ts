import { once } from 'node:events';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { askRedis } from '../../dev/env/redis.js';
import { cassandraConnection } from '../../node/backends.js';
import { BusKeys } from '../../node/bus/redis/keys.js';
import { loadCassandraConfig } from '../../node/config.js';
import { cassandraClient } from '../../node/store/cassandra/client.js';
import { startChatCluster, type ChatCluster } from '../support/chat-cluster.js';
import { ChatClient, type Frame } from '../support/chat-client.js';
import { testEnvironment } from '../support/env.js';
import { startClusterOnOwnRedis, type ClusterOnOwnRedis } from '../support/fault-servers.js';
import { tokenFor } from '../../dev/node-processes.js';

const SENDS = 400;

/** Every message the receiver can sync, oldest first (all pages). */
async function syncAll(client: ChatClient): Promise<Frame[]> {
  const messages: Frame[] = [];
  let since: unknown = '0';
  for (;;) {
    const page = await client.request({ type: 'sync', since });
    messages.push(...(page.messages as Frame[]));
    if (page.next === null) return messages;
    since = page.next;
  }
}

describe('a node that drains while a client is sending', () => {
  let cluster: ChatCluster;

  beforeAll(async () => {
    cluster = await startChatCluster(testEnvironment(), 2, { CHAT_MESSAGES_PER_SECOND: '100000' });
  });
  afterAll(async () => {
    await cluster.stop();
  });

  it('answers every send it took before it closes the socket: no message is stored without its ack reaching the sender', async () => {
    const [draining, staying] = cluster.nodes;
    if (draining === undefined || staying === undefined) throw new Error('two nodes expected');
    const sender = await ChatClient.connect(draining.wsUrl, await tokenFor('drain-sender'));
    const receiver = await ChatClient.connect(staying.wsUrl, await tokenFor('drain-receiver'));
    // A burst without waiting for replies, and the drain asked for in the middle of it.
    for (let i = 0; i < SENDS; i++) sender.sendRaw(JSON.stringify({ type: 'send', ref: `s${String(i)}`, idem: `i${String(i)}`, to: { user: 'drain-receiver' }, text: `m${String(i)}` }));
    expect((await fetch(`${draining.adminUrl}/drain`, { method: 'POST' })).status).toBe(202);
    expect(await sender.closed(30_000)).toBe(1001);

    const replies = new Map(sender.frames.filter((frame) => typeof frame.ref === 'string').map((frame) => [frame.ref as string, frame]));
    const acked = new Set([...replies.values()].filter((frame) => frame.type === 'ack').map((frame) => frame.ref));
    const refused = [...replies.values()].filter((frame) => frame.type === 'error');
    const stored = (await syncAll(receiver)).filter((message) => message.from === 'drain-sender').map((message) => `s${(message.text as string).slice(1)}`);
    console.info(`[drain] ${String(SENDS)} sends: ${String(acked.size)} acked, ${String(refused.length)} refused (${[...new Set(refused.map((frame) => frame.code))].join(', ')}), ${String(SENDS - replies.size)} never read by the node; ${String(stored.length)} stored`);
    expect(acked.size).toBeGreaterThan(0);
    // What was stored was acked; what was acked was stored; what was refused says so in words.
    expect(stored.filter((ref) => !acked.has(ref))).toEqual([]);
    expect([...acked].filter((ref) => !stored.includes(ref as string))).toEqual([]);
    for (const frame of refused) expect(frame.code).toBe('unavailable');
    receiver.close();
  });
  it('leaves the cluster with all its sockets at once: watchers hear offline only of users left with no socket, and none of its routes or mapping rows stay', async () => {
    const draining = await cluster.addNode();
    const staying = cluster.nodes[1];
    if (staying === undefined) throw new Error('a staying node expected');
    const [both, gone] = ['drain-both', 'drain-gone'];
    const watcher = await ChatClient.connect(staying.wsUrl, await tokenFor('drain-watcher'));
    // One user on both nodes (a second device), one on the draining node only.
    const clients = [
      await ChatClient.connect(draining.wsUrl, await tokenFor(both)),
      await ChatClient.connect(staying.wsUrl, await tokenFor(both)),
      await ChatClient.connect(draining.wsUrl, await tokenFor(gone)),
    ];
    expect(await watcher.request({ type: 'presence.watch', users: [both, gone] })).toMatchObject({ users: { [both]: 'online', [gone]: 'online' } });
    const exited = once(draining.child, 'exit') as Promise<[number | null, NodeJS.Signals | null]>;
    expect((await fetch(`${draining.adminUrl}/drain`, { method: 'POST' })).status).toBe(202);
    expect(await exited).toEqual([0, null]);

    await watcher.waitFor((frame) => frame.type === 'presence' && frame.user === gone);
    expect(await watcher.request({ type: 'presence.watch', users: [both, gone] })).toMatchObject({ users: { [both]: 'online', [gone]: 'offline' } });
    // The user still on the staying node never looked offline.
    expect(watcher.frames.filter((frame) => frame.type === 'presence' && frame.ref === undefined)).toEqual([{ type: 'presence', user: gone, status: 'offline' }]);
    const keys = new BusKeys(cluster.redisKeyPrefix);
    const routes = await askRedis(cluster.env.CHAT_REDIS_URL ?? '', async (redis) => ({
      both: Object.values(await redis.hgetall(keys.sessions(both))),
      gone: await redis.exists(keys.sessions(gone)),
      nodeIndex: await redis.exists(keys.nodeSessions(draining.id)),
    }));
    expect(routes).toEqual({ both: [staying.id], gone: 0, nodeIndex: 0 });
    const client = cassandraClient(cassandraConnection(loadCassandraConfig(cluster.env)));
    try {
      const rows = await client.execute(`SELECT user_id FROM ${cluster.keyspace}.node_sessions WHERE node_id = ?`, [draining.id], { prepare: true });
      expect(rows.rows).toEqual([]);
      const bothRows = await client.execute(`SELECT node_id FROM ${cluster.keyspace}.user_sessions WHERE user_id = ?`, [both], { prepare: true });
      expect(bothRows.rows.map((row) => row.get('node_id') as string)).toEqual([staying.id]);
    } finally {
      await client.shutdown();
    }
    for (const socket of [watcher, ...clients]) socket.close();
  });
});

describe('a node told to stop (SIGTERM) while Redis is down', () => {
  let own: ClusterOnOwnRedis | undefined;

  beforeAll(async () => {
    own = await startClusterOnOwnRedis('drain-redis-down', testEnvironment(), 1);
  });
  afterAll(async () => {
    await own?.stop();
  });

  it('still drains its sockets, closes its ports and backends, and exits 0', async () => {
    const node = own?.cluster.nodes[0];
    const redis = own?.redis;
    if (node === undefined || redis === undefined) throw new Error('the cluster did not start');
    const client = await ChatClient.connect(node.wsUrl, await tokenFor('stop-while-redis-down'));
    await redis.stop('SIGKILL');

    const exited = once(node.child, 'exit') as Promise<[number | null, NodeJS.Signals | null]>;
    node.child.kill('SIGTERM');
    expect(await client.closed(30_000)).toBe(1001);
    expect(await exited, node.output.slice(-10).join('\n')).toEqual([0, null]);
    expect(node.output.some((line) => line.includes('drained; exiting'))).toBe(true);
  });
});
