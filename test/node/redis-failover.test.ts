import { randomBytes } from 'node:crypto';
import { setTimeout as sleep } from 'node:timers/promises';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import type { Target } from '../../node/protocol/frames.js';
import type { Launcher } from '../../dev/env/launcher.js';
import { startClusterRedis } from '../../dev/env/redis-cluster.js';
import { startSentinelRedis } from '../../dev/env/redis-sentinel.js';
import { provisionRedis } from '../../dev/env/redis.js';
import type { NodeProcess } from '../../dev/node-processes.js';
import { startChatCluster, type ChatCluster } from '../support/chat-cluster.js';
import { testEnvironment } from '../support/env.js';
import { expectDeliveredAfterRecovery, formGroup, liveDeliverySince, readiness, showNodeLogsOnFailure, showServerLogsOnFailure, startedBetween, summary } from '../support/fault-checks.js';
import { ownServers, stopClusterUnderTest, stopProcessGroup, type OwnServers } from '../support/fault-servers.js';
import { ChatUser, outcomes, Traffic } from '../support/fault-traffic.js';

// Redis without a single point of failure (issue 13): the server the bus writes to is
// killed with SIGKILL while three nodes carry traffic; a replica takes over, and the nodes
// follow it by themselves. No acked message may be lost, live or by sync.

/** A Redis topology of the test's own, with a way to kill the server that matters and see the takeover. */
interface FailoverTopology {
  url: string;
  /** Kills the server the nodes write to (for `cluster`: the master of node 0's keys) and returns its port. */
  killWriter(cluster: ChatCluster): Promise<number>;
  /** Whether a replica has replaced the killed server as the topology reports it. */
  tookOver(killedPort: number, cluster: ChatCluster): Promise<boolean>;
}

const FAILOVER_BOUND_MS = 10_000;
const ACKED_AT_LEAST = 5_000;
/** After the takeover, the nodes reconnect (retried every second at most) and write their routes again. */
const RECOVERY_BOUND_MS = 3_000;

/** The hash tag of a node's own keys on a Cluster (keys.ts): the slot of its inbox. */
const nodeKeysTag = (cluster: ChatCluster): string => `{${cluster.nodes[0]?.id ?? ''}}`;

function describeFailover(kind: string, startTopology: (launcher: Launcher) => Promise<FailoverTopology>): void {
  describe(`${kind}: the Redis server the nodes write to is killed under traffic`, () => {
    const env = testEnvironment();
    const run = randomBytes(3).toString('hex');
    let servers: OwnServers | undefined;
    let topology: FailoverTopology | undefined;
    let cluster: ChatCluster | undefined;
    const users: ChatUser[] = [];

    beforeAll(async () => {
      servers = ownServers('failover');
      topology = await startTopology(servers.launcher);
      // Senders may send as fast as they get answers: the test needs thousands of acks.
      cluster = await startChatCluster({ ...env, CHAT_REDIS_URL: topology.url }, 3, { CHAT_MESSAGES_PER_SECOND: '1000' });
    });
    afterAll(async () => {
      await stopClusterUnderTest(users, cluster);
      await servers?.stop();
    });

    it(`fails over within ${FAILOVER_BOUND_MS / 1000} s, loses no acked message, and delivers live again without restarting a node`, async () => {
      if (cluster === undefined || topology === undefined) throw new Error('the cluster did not start');
      showNodeLogsOnFailure(cluster.nodes);
      if (servers !== undefined) showServerLogsOnFailure(servers.launcher);
      const nodes = cluster.nodes;
      const connect = async (label: string, node: NodeProcess): Promise<ChatUser> => {
        const user = await ChatUser.connect(`${label}-${run}`, [node]);
        users.push(user);
        return user;
      };
      const senders = await Promise.all(nodes.flatMap((node, index) => [connect(`f-sender-${index}a`, node), connect(`f-sender-${index}b`, node)]));
      const readers = await Promise.all(nodes.map((node, index) => connect(`f-reader-${index}`, node)));
      const group = `failover-${run}`;
      const members = [...senders, ...readers];
      await formGroup(group, members);
      const targets: Target[] = [...readers.map((reader) => ({ user: reader.name })), { group }];
      const traffic = new Traffic(
        senders.map((sender, index) => ({ sender, targets: [...targets.slice(index % targets.length), ...targets.slice(0, index % targets.length)] })),
        { [group]: members.map((member) => member.name) },
        2,
      );

      traffic.start();
      try {
        await vi.waitFor(() => {
          expect(traffic.acked().length).toBeGreaterThanOrEqual(ACKED_AT_LEAST / 2);
        }, { timeout: 60_000, interval: 100 });
        const killedAt = Date.now();
        const killedPort = await topology.killWriter(cluster);
        // Every node's readiness, polled through the failover: it must say Redis is away while it is.
        const unreadySeen = new Set<string>();
        let tookOverAt: number | undefined;
        while (tookOverAt === undefined && Date.now() - killedAt < FAILOVER_BOUND_MS + 5_000) {
          const statuses = await Promise.all(nodes.map(readiness));
          nodes.forEach((node, index) => {
            if (statuses[index] === 503) unreadySeen.add(node.id);
          });
          if (await topology.tookOver(killedPort, cluster).catch(() => false)) tookOverAt = Date.now();
          else await sleep(100);
        }
        if (tookOverAt === undefined) throw new Error(`no replica took over within ${(FAILOVER_BOUND_MS + 5_000) / 1000} s`);
        await vi.waitFor(async () => {
          expect(await Promise.all(nodes.map(readiness))).toEqual([200, 200, 200]);
        }, { timeout: 15_000, interval: 100 });
        const readyAt = Date.now();
        await vi.waitFor(() => {
          expect(traffic.acked().filter(startedBetween(tookOverAt + RECOVERY_BOUND_MS, Infinity)).length).toBeGreaterThanOrEqual(500);
          expect(traffic.acked().length).toBeGreaterThanOrEqual(ACKED_AT_LEAST);
        }, { timeout: 60_000, interval: 200 });
        await traffic.stop();

        expect(tookOverAt - killedAt).toBeLessThanOrEqual(FAILOVER_BOUND_MS);
        // No node was restarted: the same processes carried the traffic throughout.
        for (const node of nodes) expect(node.child.exitCode, `${node.id} exited`).toBeNull();
        expect([...unreadySeen].sort(), 'every node reports Redis down while no server takes writes').toEqual(nodes.map((node) => node.id).sort());
        // Never a silent loss: every send has an answer, an ack or `unavailable`.
        expect(traffic.sends.filter((send) => send.ack === undefined && send.error !== 'unavailable')).toEqual([]);

        // Live again from shortly after the takeover; nothing acked lost (what missed live is in sync).
        const figures = await expectDeliveredAfterRecovery(traffic, members, users, tookOverAt + RECOVERY_BOUND_MS, killedAt);
        const live = liveDeliverySince(traffic, members, killedAt);
        summary(`${kind} failover`, {
          sends: traffic.sends.length,
          outcomes: outcomes(traffic.sends),
          acked: traffic.acked().length,
          deliveriesOnlyBySync: figures.deliveriesOnlyBySync,
          failoverMs: tookOverAt - killedAt,
          readyAgainAfterKillMs: readyAt - killedAt,
          outageOutcomes: outcomes(traffic.sends.filter(startedBetween(killedAt, tookOverAt))),
          liveForEveryoneFromMsAfterKill: figures.lastOnlyBySyncSentAt - killedAt,
          // Sent from the kill on: the slowest live delivery, and how many took over a second.
          slowestLiveDeliveryMs: live.slowestMs,
          liveDeliveriesOverOneSecond: live.overOneSecond,
        });
      } finally {
        await traffic.stop();
      }
    }, 240_000);
  });
}

describeFailover('Sentinel', async (launcher) => {
  const sentinel = await startSentinelRedis(await provisionRedis(), launcher);
  return {
    url: sentinel.url,
    async killWriter() {
      const port = await sentinel.primaryPort();
      const server = sentinel.servers.get(port);
      if (server === undefined) throw new Error(`the sentinels name an unknown primary on port ${port}`);
      await stopProcessGroup(server.pid, 'SIGKILL');
      return port;
    },
    async tookOver(killedPort) {
      return (await sentinel.primaryPort()) !== killedPort;
    },
  };
});

describeFailover('Redis Cluster', async (launcher) => {
  const redis = await startClusterRedis(await provisionRedis(), launcher);
  const ports = [...redis.servers.keys()];
  return {
    url: redis.url,
    async killWriter(cluster) {
      const port = await redis.masterOf(nodeKeysTag(cluster), ports[0] ?? 0);
      const server = redis.servers.get(port);
      if (server === undefined) throw new Error(`an unknown master on port ${port}`);
      await stopProcessGroup(server.pid, 'SIGKILL');
      return port;
    },
    async tookOver(killedPort, cluster) {
      const survivor = ports.find((port) => port !== killedPort) ?? 0;
      return (await redis.masterOf(nodeKeysTag(cluster), survivor)) !== killedPort;
    },
  };
});
