import { randomBytes } from 'node:crypto';
import { once } from 'node:events';
import { request as httpRequest, type IncomingMessage } from 'node:http';
import { text } from 'node:stream/consumers';
import { setTimeout as sleep } from 'node:timers/promises';
import { Client } from 'cassandra-driver';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { WebSocket } from 'ws';
import type { Target } from '../../node/protocol/frames.js';
import { startChatCluster, type ChatCluster } from '../support/chat-cluster.js';
import { testEnvironment, type TestEnvironment } from '../support/env.js';
import { ownServers, startRestartableCassandra, startRestartableRedis, stopClusterUnderTest, type OwnServers, type RestartableServer } from '../support/fault-servers.js';
import { ChatUser, outcomes, Traffic } from '../support/fault-traffic.js';
import { ChatClient, type Frame } from '../support/chat-client.js';
import { CqlAnswerLoss } from '../support/cql-answer-loss.js';
import { describeMissed, expectDeliveredAfterRecovery, formGroup, nodeAt, readiness, showNodeLogsOnFailure, startedBetween, summary } from '../support/fault-checks.js';
import { stopNode, tokenFor, type NodeProcess } from '../../dev/node-processes.js';
import { askRedis } from '../../dev/env/redis.js';
import { BusKeys } from '../../node/bus/redis/keys.js';

// Fault tolerance of the chat node on real servers and real node processes: a node
// SIGKILLed, Redis restarted, Cassandra stopped, each while users are chatting. PROTOCOL.md,
// "Semantics": no acknowledged message is ever lost, whatever node dies.

/** How long a node waits for Cassandra's answer in the Cassandra suite (CHAT_CASSANDRA_REQUEST_TIMEOUT_MS). */
const REQUEST_TIMEOUT_MS = 3_000;

describe('chat node fault tolerance', () => {
  const env = testEnvironment();
  const run = randomBytes(3).toString('hex');
  const name = (label: string): string => `${label}-${run}`;

  describe('a node is killed with SIGKILL while users chat', () => {
    let cluster: ChatCluster | undefined;
    const users: ChatUser[] = [];
    let registry: Client | undefined;

    const connect = async (label: string, nodes: NodeProcess[], reconnectAfterMs?: number): Promise<ChatUser> => {
      const user = await ChatUser.connect(name(label), nodes, reconnectAfterMs === undefined ? {} : { reconnectAfterMs });
      users.push(user);
      return user;
    };

    beforeAll(async () => {
      cluster = await startChatCluster(env, 3);
      registry = new Client({
        contactPoints: env.CHAT_CASSANDRA_CONTACT_POINTS.split(','),
        localDataCenter: env.CHAT_CASSANDRA_DC,
        keyspace: cluster.keyspace,
      });
    });
    afterAll(async () => {
      await registry?.shutdown();
      await stopClusterUnderTest(users, cluster);
    });

    it('loses no acked message: users of the dead node reconnect elsewhere and sync the rest, and the survivors clean up after it', async () => {
      if (cluster === undefined || registry === undefined) throw new Error('the cluster did not start');
      showNodeLogsOnFailure(cluster.nodes);
      const store = registry;
      const [a, b, doomed] = [nodeAt(cluster, 0), nodeAt(cluster, 1), nodeAt(cluster, 2)];
      // Senders on the nodes that survive; recipients on all three. Those on the doomed node
      // come back through a and b respectively, as a load balancer would spread them.
      const senders = [await connect('sender-a1', [a]), await connect('sender-a2', [a]), await connect('sender-b1', [b]), await connect('sender-b2', [b])];
      const stayers = [await connect('reader-a', [a]), await connect('reader-b', [b])];
      // They wait a little before reconnecting, as clients back off, so they miss a fair share.
      const movers = [await connect('reader-c1', [doomed, a, b], 1_500), await connect('reader-c2', [doomed, b, a], 2_000)];
      const bystander = await connect('bystander-c', [doomed]);
      const watcher = await connect('watcher-a', [a]);
      const group = `crew-${run}`;
      const members = [...senders, ...stayers, ...movers];
      await formGroup(group, members);
      const targets: Target[] = [...stayers, ...movers].map((user) => ({ user: user.name }));
      targets.push({ group });
      const traffic = new Traffic(
        senders.map((sender, index) => ({ sender, targets: [...targets.slice(index), ...targets.slice(0, index)] })),
        { [group]: members.map((member) => member.name) },
        200,
      );
      expect(await watcher.request({ type: 'presence.watch', users: [bystander.name] })).toMatchObject({
        users: { [bystander.name]: 'online' },
      });

      traffic.start();
      try {
        await vi.waitFor(() => {
          expect(traffic.acked().length).toBeGreaterThanOrEqual(40);
        }, { timeout: 15_000, interval: 100 });
        const killedAt = Date.now();
        await stopNode(doomed, 'SIGKILL');
        await vi.waitFor(() => {
          for (const mover of movers) {
            expect(mover.reconnectError).toBeUndefined();
            expect(mover.reconnections).toHaveLength(1);
          }
        }, { timeout: 20_000, interval: 50 });
        const caughtUpAt = Math.max(...movers.flatMap((mover) => mover.reconnections.map((reconnection) => reconnection.syncedAt)));
        // Chatting goes on for a while with everyone on the survivors.
        await sleep(3_000);
        await traffic.stop();

        // Senders are on the survivors: every send is acked.
        expect(outcomes(traffic.sends)).toEqual({ ack: traffic.sends.length });
        // Users on the survivors see every message live; the movers see each one live or in their catch-up sync.
        await vi.waitFor(() => {
          const stayersMissed = traffic.missed([...senders, ...stayers], 'live');
          const moversMissed = traffic.missed(movers, 'live or sync');
          // Once the movers are back and caught up, they too get every message live.
          const moversMissedLive = traffic.missed(movers, 'live', startedBetween(caughtUpAt, Infinity));
          expect(stayersMissed, describeMissed(stayersMissed, users)).toEqual([]);
          expect(moversMissed, describeMissed(moversMissed, users)).toEqual([]);
          expect(moversMissedLive, describeMissed(moversMissedLive, users)).toEqual([]);
        }, { timeout: 10_000, interval: 200 });
        for (const user of users) expect(user.duplicates, `${user.name} got a message twice on one socket`).toBe(0);
        for (const mover of movers) {
          expect([a.id, b.id]).toContain(mover.node);
          // Away for a while, each had messages to catch up on.
          expect(mover.reconnections[0]?.recovered).toBeGreaterThan(0);
        }

        // The survivors notice the dead node's lapsed heartbeat (15 s TTL, checked every 5 s)
        // and remove what it held: its users with no socket elsewhere turn offline, its
        // mapping rows and its registry row go.
        await watcher.client.waitFor(
          (frame) => frame.type === 'presence' && frame.user === bystander.name && frame.status === 'offline',
          40_000,
        );
        const offlineAt = Date.now();
        expect(offlineAt - killedAt).toBeLessThan(30_000);
        await vi.waitFor(async () => {
          const registered = (await store.execute('SELECT id FROM nodes')).rows.map((row) => row.get('id') as string);
          expect(registered).not.toContain(doomed.id);
          expect(registered).toEqual(expect.arrayContaining([a.id, b.id]));
          const sessions = await store.execute('SELECT user_id FROM node_sessions WHERE node_id = ?', [doomed.id], { prepare: true });
          expect(sessions.rowLength).toBe(0);
          // Its inbox too: what it held was for sockets that are gone, and texts do not stay in Redis.
          expect(await askRedis(env.CHAT_REDIS_URL, (redis) => redis.exists(new BusKeys(cluster?.redisKeyPrefix ?? '', false).inbox(doomed.id)))).toBe(0);
        }, { timeout: 10_000, interval: 250 });
        // The movers are still online: cleaning up the dead node left their new sockets alone.
        expect(await watcher.request({ type: 'presence.watch', users: movers.map((mover) => mover.name) })).toMatchObject({
          users: Object.fromEntries(movers.map((mover) => [mover.name, 'online'])),
        });

        const acked = traffic.acked();
        summary('node killed', {
          acked: acked.length,
          ackedBeforeKill: acked.filter(startedBetween(0, killedAt)).length,
          ackedWhileMoversAway: acked.filter(startedBetween(killedAt, caughtUpAt)).length,
          ackedAfter: acked.filter(startedBetween(caughtUpAt, Infinity)).length,
          reconnections: movers.map((mover) =>
            mover.reconnections.map((r) => ({
              user: mover.name,
              node: r.node,
              droppedAfterMs: r.droppedAt - killedAt,
              helloAfterMs: r.helloAt - killedAt,
              syncedAfterMs: r.syncedAt - killedAt,
              recoveredBySync: r.recovered,
            })),
          ),
          bystanderOfflineAfterMs: offlineAt - killedAt,
        });
      } finally {
        await traffic.stop();
      }
    }, 150_000);
  });

  describe('Redis restarts while users chat', () => {
    let servers: OwnServers | undefined;
    let redis: RestartableServer | undefined;
    let cluster: ChatCluster | undefined;
    const users: ChatUser[] = [];

    beforeAll(async () => {
      servers = ownServers('faults-redis');
      redis = await startRestartableRedis(servers.launcher);
      const clusterEnv: TestEnvironment = { ...env, CHAT_REDIS_URL: redis.address };
      cluster = await startChatCluster(clusterEnv, 3);
    });
    afterAll(async () => {
      await stopClusterUnderTest(users, cluster);
      await servers?.stop();
    });

    it('answers every send with an ack or unavailable, delivers live again once the nodes re-assert their routes, and sync has every acked message', async () => {
      if (cluster === undefined || redis === undefined) throw new Error('the cluster did not start');
      showNodeLogsOnFailure(cluster.nodes);
      const nodes = [nodeAt(cluster, 0), nodeAt(cluster, 1), nodeAt(cluster, 2)] as const;
      const connect = async (label: string, node: NodeProcess): Promise<ChatUser> => {
        const user = await ChatUser.connect(name(label), [node]);
        users.push(user);
        return user;
      };
      const senders = [await connect('r-sender-0', nodes[0]), await connect('r-sender-1', nodes[1])];
      const readers = [await connect('r-reader-0', nodes[0]), await connect('r-reader-1', nodes[1]), await connect('r-reader-2', nodes[2])];
      const group = `redis-${run}`;
      const members = [...senders, ...readers];
      await formGroup(group, members);
      const targets: Target[] = [...readers.map((reader) => ({ user: reader.name })), { group }];
      const traffic = new Traffic(
        senders.map((sender, index) => ({ sender, targets: [...targets.slice(index), ...targets.slice(0, index)] })),
        { [group]: members.map((member) => member.name) },
        150,
      );
      // Once Redis answers again, the nodes reconnect (ioredis retries within a second) and
      // write their routes again; from then on delivery must be live.
      const recoveryBoundMs = 5_000;

      traffic.start();
      try {
        await vi.waitFor(() => {
          expect(traffic.acked().length).toBeGreaterThanOrEqual(20);
        }, { timeout: 15_000, interval: 100 });
        const stoppedAt = Date.now();
        await redis.stop('SIGKILL');
        await vi.waitFor(async () => {
          expect(await Promise.all(nodes.map(readiness))).toEqual([503, 503, 503]);
        }, { timeout: 10_000, interval: 100 });
        await sleep(3_000);
        const restartingAt = Date.now();
        await redis.start();
        const backAt = Date.now();
        await vi.waitFor(async () => {
          expect(await Promise.all(nodes.map(readiness))).toEqual([200, 200, 200]);
        }, { timeout: 15_000, interval: 100 });
        const readyAt = Date.now();
        await sleep(recoveryBoundMs + 4_000);
        await traffic.stop();

        const duringOutage = traffic.sends.filter(startedBetween(stoppedAt, restartingAt));
        // Never a silent loss: every send has an answer, an ack or `unavailable`.
        expect(traffic.sends.filter((send) => send.ack === undefined && send.error !== 'unavailable')).toEqual([]);
        // Sends with an idem need Redis before storing: those are refused while it is down.
        // The others are stored and acked, but cannot be routed: recipients must sync them.
        expect(outcomes(duringOutage).unavailable).toBeGreaterThan(0);
        expect(outcomes(duringOutage).ack).toBeGreaterThan(0);

        // From shortly after Redis is back, every acked message reaches every online recipient live.
        const afterRecovery = startedBetween(backAt + recoveryBoundMs, Infinity);
        expect(traffic.acked().filter(afterRecovery).length).toBeGreaterThan(20);
        const figures = await expectDeliveredAfterRecovery(traffic, members, users, backAt + recoveryBoundMs, stoppedAt);
        summary('Redis restarted', {
          sends: traffic.sends.length,
          outcomes: outcomes(traffic.sends),
          outageMs: backAt - stoppedAt,
          outageOutcomes: outcomes(duringOutage),
          readyAgainAfterMs: readyAt - backAt,
          deliveriesOnlyBySync: figures.deliveriesOnlyBySync,
          liveForEveryoneFromMsAfterBack: figures.lastOnlyBySyncSentAt - backAt,
        });
      } finally {
        await traffic.stop();
      }
    }, 120_000);
  });

  describe('Cassandra stops and comes back', () => {
    let servers: OwnServers | undefined;
    let cassandra: RestartableServer | undefined;
    let proxy: CqlAnswerLoss | undefined;
    let cluster: ChatCluster | undefined;
    const users: ChatUser[] = [];

    beforeAll(async () => {
      servers = ownServers('faults-cassandra');
      cassandra = await startRestartableCassandra(servers.launcher);
      const clusterEnv: TestEnvironment = { ...env, CHAT_CASSANDRA_CONTACT_POINTS: cassandra.address };
      // The first node reaches Cassandra through a proxy that can lose an answer, and
      // requests time out within seconds, not 12 (the last test below).
      proxy = await CqlAnswerLoss.start(cassandra.address);
      const throughProxy = { CHAT_CASSANDRA_CONTACT_POINTS: `127.0.0.1:${proxy.port}` };
      cluster = await startChatCluster(clusterEnv, 2, { CHAT_CASSANDRA_REQUEST_TIMEOUT_MS: String(REQUEST_TIMEOUT_MS) }, [throughProxy]);
    }, 240_000);
    afterAll(async () => {
      // The keyspace lives in this test's own Cassandra, which goes away with its folder.
      await stopClusterUnderTest(users, cluster, false);
      await proxy?.close();
      await servers?.stop();
    });

    it('refuses sends with unavailable and turns unready while it is down, then recovers without restarting the node', async () => {
      if (cluster === undefined || cassandra === undefined || proxy === undefined) throw new Error('the cluster did not start');
      showNodeLogsOnFailure(cluster.nodes);
      const nodes = [nodeAt(cluster, 0), nodeAt(cluster, 1)] as const;
      const pids = nodes.map((node) => node.child.pid);
      const alice = await ChatUser.connect(name('alice'), [nodes[0]]);
      const bob = await ChatUser.connect(name('bob'), [nodes[1]]);
      const carol = await ChatUser.connect(name('carol'), [nodes[1]]);
      users.push(alice, bob, carol);
      const outageMs = 20_000;
      const group = `ops-${run}`;
      await formGroup(group, [alice, bob]);
      expect(await alice.request({ type: 'presence.watch', users: [carol.name] })).toMatchObject({ users: { [carol.name]: 'online' } });
      const acked: string[] = [];
      /** Sends and expects an ack, then the message live at `reader`. */
      const exchange = async (from: ChatUser, to: Target, reader: ChatUser, idem?: string): Promise<void> => {
        const reply = await from.request({ type: 'send', to, text: `from ${from.name}`, ...(idem === undefined ? {} : { idem }) });
        expect(reply, `${from.name} → ${JSON.stringify(to)}`).toMatchObject({ type: 'ack' });
        const id = reply.id as string;
        acked.push(id);
        await vi.waitFor(() => {
          expect(reader.live.has(id), `${reader.name} did not get ${id} live`).toBe(true);
        }, { timeout: 5_000, interval: 50 });
      };
      await exchange(alice, { user: bob.name }, bob);
      await exchange(bob, { user: alice.name }, alice);
      await exchange(alice, { group }, bob);

      const connectionsBefore = proxy.connections;
      const stoppedAt = Date.now();
      await cassandra.stop('SIGKILL');
      await vi.waitFor(async () => {
        expect(await Promise.all(nodes.map(readiness))).toEqual([503, 503]);
      }, { timeout: 15_000, interval: 100 });
      const unreadyAt = Date.now();

      // Presence lives on Redis: a user who leaves while Cassandra is down is seen to go offline.
      carol.close();
      await alice.client.waitFor((frame) => frame.type === 'presence' && frame.user === carol.name && frame.status === 'offline', 5_000);

      // While it is down, longer than a node's heartbeat TTL (15 s): every send is refused
      // with `unavailable`, over the socket and over HTTP, and nothing is acked.
      const refusals: string[] = [];
      const attempts: [ChatUser, Target, string | undefined][] = [
        [alice, { user: bob.name }, undefined],
        [bob, { user: alice.name }, undefined],
        [alice, { group }, 'while-down-1'],
        [bob, { group }, undefined],
      ];
      while (Date.now() - stoppedAt < outageMs) {
        for (const [from, to, idem] of attempts) {
          const reply = await from.request({ type: 'send', to, text: 'while Cassandra is down', ...(idem === undefined ? {} : { idem }) });
          expect(reply, `${from.name} → ${JSON.stringify(to)} while Cassandra is down`).toMatchObject({ type: 'error', code: 'unavailable' });
          refusals.push(String(reply.code));
        }
        await sleep(1_000);
      }
      const overHttp = await fetch(`${nodes[0].url}/v1/messages`, {
        method: 'POST',
        headers: { authorization: `Bearer ${await tokenFor(alice.name)}`, 'content-type': 'application/json' },
        body: JSON.stringify({ to: { user: bob.name }, text: 'over HTTP while Cassandra is down' }),
      });
      expect(overHttp.status).toBe(503);
      expect(await overHttp.json()).toMatchObject({ code: 'unavailable' });
      expect([...alice.live.keys(), ...bob.live.keys()].filter((id) => !acked.includes(id))).toEqual([]);

      const restartingAt = Date.now();
      await cassandra.start();
      const backAt = Date.now();
      await vi.waitFor(async () => {
        expect(await Promise.all(nodes.map(readiness))).toEqual([200, 200]);
      }, { timeout: 20_000, interval: 250 });
      const readyAt = Date.now();

      // Recovered: the refused group send goes through when retried with its idem, and for
      // a while (several heartbeats) every send is acked and delivered live across nodes.
      await exchange(alice, { group }, bob, 'while-down-1');
      const steadyUntil = Date.now() + 12_000;
      while (Date.now() < steadyUntil) {
        await exchange(alice, { user: bob.name }, bob);
        await exchange(bob, { user: alice.name }, alice);
        await exchange(bob, { group }, alice);
        await sleep(1_000);
      }
      // The same processes and the same sockets throughout.
      expect(nodes.map((node) => node.child.pid)).toEqual(pids);
      // The first node's driver holds as many connections to Cassandra as before the outage:
      // none is left over from a pool it replaced, reconnecting beside the new one.
      expect(proxy.connections, 'connections from the node behind the proxy').toBe(connectionsBefore);
      for (const node of nodes) expect(node.child.exitCode).toBeNull();
      expect([alice, bob].map((user) => user.client.closeCode)).toEqual([undefined, undefined]);
      // Nothing acked was lost with the crash: sync from the start returns it all.
      await bob.syncFrom(undefined);
      expect(acked.filter((id) => !bob.saw(id))).toEqual([]);

      summary('Cassandra stopped', {
        refusedWhileDown: refusals.length,
        unreadyAfterMs: unreadyAt - stoppedAt,
        outageMs: backAt - stoppedAt,
        restartTookMs: backAt - restartingAt,
        readyAgainAfterMs: readyAt - backAt,
        ackedAfterRecovery: acked.length - 3,
        connectionsThroughTheProxy: `${connectionsBefore} before, ${proxy.connections} after`,
      });
    }, 240_000);

    it('a send with an idem whose write lands but whose answer is lost is stored and delivered once; its retry with the same idem gets that ack', async () => {
      if (cluster === undefined || proxy === undefined) throw new Error('the cluster did not start');
      showNodeLogsOnFailure(cluster.nodes);
      const nodes = [nodeAt(cluster, 0), nodeAt(cluster, 1)] as const;
      const dana = await ChatUser.connect(name('dana'), [nodes[0]]);
      const erin = await ChatUser.connect(name('erin'), [nodes[1]]);
      users.push(dana, erin);
      const text = `its answer lost ${run}`;
      const send = { type: 'send', to: { user: erin.name }, text, idem: `lost-${run}` };
      // Cassandra stores the message row (each request carrying the text); no answer reaches
      // the node until the send is refused. The node's driver tries the write once: Cassandra
      // has one node, which its plans hold once even after the restart above.
      const loss = proxy.loseAnswersTo(text);
      const startedAt = Date.now();
      const refused = await dana.request(send, REQUEST_TIMEOUT_MS * 4).finally(() => {
        loss.end();
      });
      const refusedAfterMs = Date.now() - startedAt;
      expect(refused, 'the send whose answers were lost').toMatchObject({ type: 'error', code: 'unavailable' });
      await loss.firstLost;
      const answersLost = loss.lost;
      expect(answersLost, 'answers lost to the write (one per try)').toBe(1);

      // Retried as PROTOCOL.md allows ("safe to retry with the same idem") until it is acked.
      let ack: Frame | undefined;
      const retries: string[] = [];
      await vi.waitFor(async () => {
        const reply = await dana.request(send, 10_000);
        retries.push(String(reply.type === 'ack' ? 'ack' : reply.code));
        expect(reply).toMatchObject({ type: 'ack' });
        ack = reply;
      }, { timeout: 60_000, interval: 500 });
      const id = String(ack?.id);
      await vi.waitFor(() => {
        expect(erin.live.has(id), `erin did not get ${id} live`).toBe(true);
      }, { timeout: 10_000, interval: 50 });
      const history = await erin.request({ type: 'history', conv: { user: dana.name }, limit: 50 });
      const copies = (history.messages as { id: string; text: string }[]).filter((message) => message.text === text).map((message) => message.id);
      expect(copies, 'the message is stored once, under the id its retry was acked with').toEqual([id]);
      expect([...erin.live.keys()]).toEqual([id]);
      summary('a send whose answer was lost', { refusedAfterMs, answersLost, retriesBeforeTheAck: retries });
    }, 120_000);
  });

  describe('sockets wait their turn while the node cannot register them', () => {
    let servers: OwnServers | undefined;
    let redis: RestartableServer | undefined;
    let cluster: ChatCluster | undefined;

    beforeAll(async () => {
      servers = ownServers('faults-opening');
      redis = await startRestartableRedis(servers.launcher);
      // One socket opened at a time and one waiting: three clients show every case.
      cluster = await startChatCluster({ ...env, CHAT_REDIS_URL: redis.address }, 1, { CHAT_SOCKETS_OPENING_AT_ONCE: '1', CHAT_SOCKETS_WAITING_MAX: '1' });
    });
    afterAll(async () => {
      await stopClusterUnderTest([], cluster);
      await servers?.stop();
    });

    it('opens one at a time, answers one past the line 503 with Retry-After, drops one whose client left, and opens the first once Redis answers', async () => {
      if (cluster === undefined || redis === undefined) throw new Error('the cluster did not start');
      showNodeLogsOnFailure(cluster.nodes);
      const node = nodeAt(cluster, 0);
      const [first, second, third] = await Promise.all(['first', 'second', 'third'].map((label) => tokenFor(name(label))));
      if (first === undefined || second === undefined || third === undefined) throw new Error('no tokens');
      const open = (token: string): WebSocket => new WebSocket(`${node.wsUrl}/ws`, { headers: { authorization: `Bearer ${token}` } });
      // Redis frozen for 1.5 s, within the node's 2 s command timeout: the first socket's registration waits for it.
      const frozen = redis.pause(1_500);
      const registering = open(first);
      const hello = new Promise((resolve, reject) => {
        registering.once('message', (data: Buffer) => {
          resolve(JSON.parse(data.toString()));
        });
        registering.once('error', reject);
      });
      await sleep(300);
      const waiting = open(second);
      const waitingFailed = once(waiting, 'error');
      await sleep(300);
      const refused = open(third);
      refused.on('error', () => undefined);
      const [, response] = (await once(refused, 'unexpected-response')) as [unknown, IncomingMessage];
      expect(response.statusCode).toBe(503);
      expect(response.headers['retry-after']).toBe('1');
      expect(JSON.parse(await text(response))).toMatchObject({ code: 'unavailable' });
      // The waiting client gives up before its turn (its handshake is abandoned).
      waiting.terminate();
      await waitingFailed;
      await frozen;
      expect(await hello).toMatchObject({ type: 'hello', user: name('first') });
      const metrics = await (await fetch(`${node.adminUrl}/metrics`)).text();
      expect(metrics).toMatch(/chat_socket_opens_shed_total\{reason="queue_full"\} 1\n/);
      expect(metrics).toMatch(/chat_socket_opens_shed_total\{reason="client_gone"\} 1\n/);
      expect(metrics).toMatch(/chat_socket_opens_waiting 0\n/);
      // The line is free again: the client that gave up opens at once when it comes back.
      const back = await ChatClient.connect(node.wsUrl, second);
      expect(back.user).toBe(name('second'));
      // An upgrade ws refuses (no Sec-WebSocket-Key) gives its place back too.
      const malformed = await new Promise<IncomingMessage>((resolve, reject) => {
        const asked = httpRequest(`${node.wsUrl.replace('ws:', 'http:')}/ws`, {
          headers: { connection: 'Upgrade', upgrade: 'websocket', 'sec-websocket-version': '13', authorization: `Bearer ${third}` },
        });
        asked.on('response', resolve).on('error', reject).end();
      });
      expect(malformed.statusCode).toBe(400);
      malformed.resume();
      const afterMalformed = await ChatClient.connect(node.wsUrl, third);
      expect(afterMalformed.user).toBe(name('third'));
      for (const client of [back, afterMalformed]) client.close();
      registering.close();
    }, 60_000);
  });
});
