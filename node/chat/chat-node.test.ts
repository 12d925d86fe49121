import { afterEach, describe, expect, it, vi } from 'vitest';
import { createLogger } from '../../common/log.js';
import { MemoryBus } from '../bus/memory/bus.js';
import { idFloorAt } from '../protocol/cursor.js';
import { ChatError } from '../protocol/errors.js';
import { ackOf, type ServerFrame } from '../protocol/frames.js';
import { MemoryStore } from '../store/memory-store.js';
import type { SessionRecord } from '../store/store.js';
import { recordingConnection } from '../../test/support/recording-connection.js';
import { Gate } from '../../test/support/gate.js';
import { ChatNode } from './chat-node.js';

const log = createLogger('chat-node-test', 'silent');
const running: ChatNode[] = [];
/** The message of a later send with the same idem: claiming a key with it reads what a retry is answered. */
const RETRY_ID = '01JABCDEFGHJKMNPQRSTVWXYZ9';

/** Two nodes of one cluster on the embedded store and bus (one instance serves both, as in the embedded node). */
async function twoNodes(): Promise<{ store: MemoryStore; bus: MemoryBus; nodes: [ChatNode, ChatNode] }> {
  const store = new MemoryStore();
  const bus = new MemoryBus();
  const nodes: [ChatNode, ChatNode] = [await startedNode('node-a', store, bus), await startedNode('node-b', store, bus)];
  return { store, bus, nodes };
}

/** Two nodes, and a group `crew` made by `owner` on the second with `member` in it. */
async function twoNodesWithCrew(): Promise<{ store: MemoryStore; bus: MemoryBus; nodes: [ChatNode, ChatNode] }> {
  const cluster = await twoNodes();
  await cluster.nodes[1].operations.createGroup('owner', 'crew');
  await cluster.nodes[1].operations.joinGroup('member', 'crew');
  return cluster;
}

/** A started node of the cluster on `store` and `bus` (and `clock`, when given), stopped after the test. */
async function startedNode(id: string, store: MemoryStore, bus: MemoryBus, clock?: () => number): Promise<ChatNode> {
  const node = new ChatNode({
    nodeId: id,
    address: `${id}:9090`,
    store,
    bus,
    log,
    limits: { maxTextBytes: 4096, messagesPerSecondPerUser: 100 },
    heartbeatMs: 60_000,
    ...(clock === undefined ? {} : { clock }),
  });
  await node.start();
  running.push(node);
  return node;
}

afterEach(async () => {
  await Promise.all(running.splice(0).map((node) => node.stop()));
});

describe('a socket registering while its user joins a group on another node', () => {
  it('gets the group’s messages, the join landing while the socket’s route is still on its way', async () => {
    const { bus, nodes: [here, elsewhere] } = await twoNodes();
    await elsewhere.operations.createGroup('owner', 'crew');
    // The route of the socket below reaches the bus only once the join has been answered.
    const joinAnswered = new Gate();
    const addSession = bus.routes.addSession.bind(bus.routes);
    bus.routes.addSession = async (session: SessionRecord) => {
      await joinAnswered.passed;
      return addSession(session);
    };

    const member = recordingConnection('member', 'session-1');
    const registering = here.connect(member.connection);
    await elsewhere.operations.joinGroup('member', 'crew');
    joinAnswered.open();
    await registering;

    await expectMessageReaches(member.frames, elsewhere, { group: 'crew' });
  });

  it('gets the group’s messages, the join landing after the route while the groups read still sees none', async () => {
    const { store, nodes: [here, elsewhere] } = await twoNodes();
    await elsewhere.operations.createGroup('owner', 'crew');
    // The socket's groups read answers from before the join, but only once the join has been
    // answered: the join must have found the route and told this node through its inbox.
    const [joinAnswered, groupsRead] = [new Gate(), new Gate()];
    holdGroupsRead(store, groupsRead, joinAnswered);

    const member = recordingConnection('member', 'session-1');
    const registering = here.connect(member.connection);
    await groupsRead.passed;
    await elsewhere.operations.joinGroup('member', 'crew');
    joinAnswered.open();
    await registering;

    await expectMessageReaches(member.frames, elsewhere, { group: 'crew' });
  });
});

describe('a socket registering while its user leaves a group on another node', () => {
  it('gets none of the group’s messages, the leave heard while the groups read still has the group', async () => {
    const { store, nodes: [here, elsewhere] } = await twoNodesWithCrew();
    // The socket's groups read answers from before the leave, but only once this node has
    // heard of the leave through its inbox, before the group is hosted.
    const [leaveHeard, groupsRead] = [new Gate(), new Gate()];
    holdGroupsRead(store, groupsRead, leaveHeard);

    const member = recordingConnection('member', 'session-1');
    const registering = here.connect(member.connection);
    await groupsRead.passed;
    await elsewhere.operations.leaveGroup('member', 'crew');
    // This node's inbox hands it the leave, then this message, in that order.
    await expectMessageReaches(member.frames, elsewhere, { user: 'member' });
    leaveHeard.open();
    await registering;

    expect(here.sockets.membersOf('crew')).toEqual([]);
    const { ack } = await sendAndRoute(elsewhere, 'owner', { group: 'crew' });
    await expectMessageReaches(member.frames, elsewhere, { user: 'member' });
    expect(member.frames).not.toContainEqual(expect.objectContaining({ type: 'message', id: ack.id }));
  });
});

describe('a user with several sockets registering on one node', () => {
  it('a second socket says hello only once the groups the first one is reading are hosted', async () => {
    const { store, nodes: [here, elsewhere] } = await twoNodesWithCrew();
    const [groupsRead, release] = [new Gate(), new Gate()];
    holdGroupsRead(store, groupsRead, release);

    const first = recordingConnection('member', 'session-1');
    const second = recordingConnection('member', 'session-2');
    const firstRegistered = here.connect(first.connection);
    await groupsRead.passed;
    await expectGroupMessageFromHello(here, second, elsewhere, release);
    await firstRegistered;
  });

  it('a socket registered beside one whose registration failed still gets the group’s messages, and watchers hear the user online', async () => {
    const { store, nodes: [here, elsewhere] } = await twoNodesWithCrew();
    const watcher = recordingConnection('watcher', 'watcher-1');
    await elsewhere.presence.watch(watcher.connection, ['member'], () => undefined);
    // The first socket's mapping row fails, but only once the second socket has registered.
    const secondRegistered = new Gate();
    const putSession = store.putSession.bind(store);
    store.putSession = async (session: SessionRecord, ttlSeconds: number) => {
      if (session.session !== 'session-1') return putSession(session, ttlSeconds);
      await secondRegistered.passed;
      throw new ChatError('unavailable', 'Cassandra blip');
    };

    const first = recordingConnection('member', 'session-1');
    const second = recordingConnection('member', 'session-2');
    const firstRegistered = here.connect(first.connection);
    await here.connect(second.connection);
    secondRegistered.open();
    await expect(firstRegistered).rejects.toThrow('Cassandra blip');

    await expectMessageReaches(second.frames, elsewhere, { group: 'crew' });
    await vi.waitFor(() => {
      expect(watcher.frames).toContainEqual({ type: 'presence', user: 'member', status: 'online' });
    });
  });

  it('when reading the groups fails, the sockets waiting for it fail and the next socket reads them again', async () => {
    const { store, nodes: [here, elsewhere] } = await twoNodesWithCrew();
    const [groupsRead, release] = [new Gate(), new Gate()];
    const groupsOf = store.groupsOf.bind(store);
    store.groupsOf = async () => {
      store.groupsOf = groupsOf;
      groupsRead.open();
      await release.passed;
      throw new ChatError('unavailable', 'Cassandra blip');
    };

    const first = here.connect(recordingConnection('member', 'session-1').connection);
    await groupsRead.passed;
    const second = here.connect(recordingConnection('member', 'session-2').connection);
    release.open();
    await expect(first).rejects.toThrow('Cassandra blip');
    await expect(second).rejects.toThrow('Cassandra blip');

    const third = recordingConnection('member', 'session-3');
    await here.connect(third.connection);
    await expectMessageReaches(third.frames, elsewhere, { group: 'crew' });
  });

  it('another member’s socket says hello only once this node is in the group’s route', async () => {
    const { bus, nodes: [here, elsewhere] } = await twoNodesWithCrew();
    await elsewhere.operations.joinGroup('other', 'crew');
    // The first member's write of this node into the group's route is held back.
    const [written, release] = [new Gate(), new Gate()];
    const addGroupNode = bus.routes.addGroupNode.bind(bus.routes);
    bus.routes.addGroupNode = async (group: string, node: string) => {
      written.open();
      await release.passed;
      return addGroupNode(group, node);
    };

    const firstRegistered = here.connect(recordingConnection('member', 'session-1').connection);
    await written.passed;
    const other = recordingConnection('other', 'session-2');
    await expectGroupMessageFromHello(here, other, elsewhere, release);
    await firstRegistered;
  });
});

describe('a node restarted under the id of its previous life (a container restarted in its pod)', () => {
  it('forgets that life’s routes, group entries and mapping rows before taking sockets, and watchers hear its users offline', async () => {
    const { store, bus, nodes: [previousLife, elsewhere] } = await twoNodes();
    await elsewhere.operations.createGroup('member', 'crew');
    const watcher = recordingConnection('watcher', 'watcher-1');
    await elsewhere.presence.watch(watcher.connection, ['member'], () => undefined);
    await previousLife.connect(recordingConnection('member', 'session-1').connection);
    expect(await bus.routes.groupNodes('crew')).toEqual(['node-a']);

    // The previous life dies without a word (nothing of it is cleaned up); the next starts under its id.
    await startedNode('node-a', store, bus);

    expect(await bus.routes.onlineStatus(['member'])).toEqual({ member: false });
    expect(await bus.routes.groupNodes('crew')).toEqual([]);
    expect(await store.sessionsOf('member')).toEqual([]);
    expect(watcher.frames).toContainEqual({ type: 'presence', user: 'member', status: 'offline' });
  });

  it('writes nothing while a survivor cleans up after the previous life, and is not taken for dead once it beats', async () => {
    const store = new MemoryStore();
    const bus = new MemoryBus();
    // A survivor found the previous life's heartbeat lapsed and holds the clean-up for 1 s.
    expect(await bus.heartbeats.claimCleanup('node-a', 1)).toBeTypeOf('string');
    const startedAt = Date.now();
    const next = startedNode('node-a', store, bus);
    await new Promise((resolve) => setTimeout(resolve, 300));
    expect(await store.nodes()).toEqual([]);
    await next;
    expect(Date.now() - startedAt).toBeGreaterThanOrEqual(900);
    // Beating now: a survivor that still had it on its list of the dead cannot claim it.
    expect(await bus.heartbeats.claimCleanup('node-a', 15)).toBeUndefined();
  });
});

describe('a node stopping while the bus is away', () => {
  it('settles every unsubscribe, the failed ones too, and still leaves the registry', async () => {
    const store = new MemoryStore();
    const bus = new MemoryBus();
    const subscribe = bus.signals.subscribe.bind(bus.signals);
    bus.signals.subscribe = async (node, handler) => {
      const unsubscribe = await subscribe(node, handler);
      return async () => {
        await unsubscribe();
        throw new ChatError('unavailable', 'Redis is down');
      };
    };
    const node = new ChatNode({ nodeId: 'node-a', address: 'node-a:9090', store, bus, log, limits: { maxTextBytes: 4096, messagesPerSecondPerUser: 100 }, heartbeatMs: 60_000 });
    await node.start();
    expect(await node.isReady()).toBe(true);

    await expect(node.stop()).resolves.toBeUndefined();
    expect(await node.isReady()).toBe(false);
    expect(await store.nodes()).toEqual([]);
  });
});

describe('typing indicators of one user', () => {
  it('are relayed up to a burst of 3, then one a second; the rest are dropped without a word', async () => {
    let now = Date.now();
    const here = await startedNode('node-a', new MemoryStore(), new MemoryBus(), () => now);
    await here.operations.createGroup('typist', 'crew');
    await here.operations.joinGroup('member', 'crew');
    const member = recordingConnection('member', 'session-1');
    await here.connect(member.connection);
    const typingFrames = (): number => member.frames.filter((frame) => frame.type === 'typing').length;

    for (let i = 0; i < 10; i++) await here.operations.typing('typist', { group: 'crew' }, 'typist-session');
    expect(typingFrames()).toBe(3);
    now += 1_000;
    for (let i = 0; i < 10; i++) await here.operations.typing('typist', { user: 'member' }, 'typist-session');
    expect(typingFrames()).toBe(4);
  });
});

describe('a send with an idem whose store write failed, but may have landed (a timeout)', () => {
  /** A message from alice to bob as a node took it. */
  const message = (id: string, text: string) => ({ id, conv: 'dm:alice:bob', from: 'alice', to: { user: 'bob' }, text, ts: 1_700_000_000_000 });

  /**
   * Makes the store's first `failures` appends fail with `unavailable`, the first of them
   * after writing the message all the same (as a write that timed out after Cassandra took it).
   */
  function timingOutAppends(store: MemoryStore, failures: number): { appends: () => number } {
    const appendMessage = store.appendMessage.bind(store);
    let appends = 0;
    store.appendMessage = async (message, participants) => {
      appends += 1;
      if (appends === 1) await appendMessage(message, participants);
      if (appends <= failures) throw new ChatError('unavailable', 'Cassandra is unavailable (appendMessage)');
      return appendMessage(message, participants);
    };
    return { appends: () => appends };
  }

  it('is written again under its own id: the retry with the same idem gets its ack, and it is stored and delivered once', async () => {
    const { store, nodes: [here, elsewhere] } = await twoNodes();
    const bob = recordingConnection('bob', 'session-1');
    await elsewhere.connect(bob.connection);
    const alice = recordingConnection('alice', 'alice-1');
    await here.connect(alice.connection);
    timingOutAppends(store, 1);

    const first = here.operations.send('alice', { to: { user: 'bob' }, text: 'once', idem: 'k1' }, { exceptSession: 'alice-1' });
    await expect(first).rejects.toMatchObject({ code: 'unavailable' });
    await vi.waitFor(() => {
      expect(bob.frames.filter((frame) => frame.type === 'message')).toHaveLength(1);
    });
    // The sending socket was answered `unavailable`, so it is sent the message too.
    await vi.waitFor(() => {
      expect(alice.frames.filter((frame) => frame.type === 'message')).toHaveLength(1);
    });
    const retried = await here.operations.send('alice', { to: { user: 'bob' }, text: 'once', idem: 'k1' });
    expect(retried.route).toBeUndefined();
    expect(bob.frames.filter((frame) => frame.type === 'message')).toEqual([expect.objectContaining({ id: retried.ack.id, text: 'once' })]);
    const history = await store.history(retried.ack.conv, { limit: 10 });
    expect(history.messages.map((message) => message.id)).toEqual([retried.ack.id]);
  });

  it('holds the cluster’s stored floor below it until it is stored, so no cursor passes it', async () => {
    const { store, bus, nodes: [here, elsewhere] } = await twoNodes();
    const writes = timingOutAppends(store, 4);
    await expect(here.operations.send('alice', { to: { user: 'bob' }, text: 'late', idem: 'k1' })).rejects.toMatchObject({ code: 'unavailable' });
    // Already in the store (the write landed), and not yet settled: it is retried.
    const [stored] = (await store.sync('bob', { limit: 10 })).messages;
    if (stored === undefined) throw new Error('the first write did not land');
    await vi.waitFor(() => {
      expect(writes.appends()).toBeGreaterThanOrEqual(3);
    }, { timeout: 5_000 });
    const whileUnsettled = await elsewhere.operations.sync('bob', undefined);
    expect(whileUnsettled.completedAt?.floor === undefined || whileUnsettled.completedAt.floor <= stored.id).toBe(true);
    expect(await bus.idempotency.claim('alice', 'k1', RETRY_ID)).toBe('pending');

    await vi.waitFor(async () => {
      expect(await bus.idempotency.claim('alice', 'k1', RETRY_ID)).toEqual(ackOf(stored));
    }, { timeout: 15_000, interval: 100 });
    await vi.waitFor(async () => {
      const floor = (await elsewhere.operations.sync('bob', undefined)).completedAt?.floor;
      expect(floor !== undefined && floor > stored.id).toBe(true);
    });
  }, 20_000);

  it('repeated, answered with the first ack or refused while another send holds it, holds no cursor back', async () => {
    const { bus, nodes: [here, elsewhere] } = await twoNodes();
    const first = await here.operations.send('alice', { to: { user: 'bob' }, text: 'once', idem: 'k1' });
    await first.route?.();
    const repeated = await here.operations.send('alice', { to: { user: 'bob' }, text: 'once', idem: 'k1' });
    expect(repeated).toEqual({ ack: first.ack, route: undefined });
    expect(await bus.idempotency.claim('alice', 'k2', RETRY_ID)).toBeUndefined();
    await expect(here.operations.send('alice', { to: { user: 'bob' }, text: 'waits', idem: 'k2' })).rejects.toMatchObject({ code: 'unavailable' });
    // Each took a message id before its claim answered; both ids are finished, so the floor moves on past them.
    const after = idFloorAt(Date.now());
    await vi.waitFor(async () => {
      const floor = (await elsewhere.operations.sync('bob', undefined)).completedAt?.floor;
      expect(floor !== undefined && floor > after).toBe(true);
    });
  }, 10_000);

  it('failed for good, is forgotten by the in-flight ledger before its idem is freed, so no survivor stores it beside the retry', async () => {
    const { store, bus, nodes: [here] } = await twoNodes();
    store.appendMessage = () => Promise.reject(new ChatError('internal', 'Cassandra failed (appendMessage)'));
    await expect(here.operations.send('alice', { to: { user: 'bob' }, text: 'refused', idem: 'k1' })).rejects.toMatchObject({ code: 'internal' });
    expect(await bus.progress.unsettled('node-a')).toEqual([]);
    expect(await bus.idempotency.claim('alice', 'k1', RETRY_ID)).toBeUndefined();
  });

  it('without an idem, is refused and not written again (a retry has nothing to match it to)', async () => {
    const { store, nodes: [here] } = await twoNodes();
    const writes = timingOutAppends(store, 1);
    await expect(here.operations.send('alice', { to: { user: 'bob' }, text: 'no idem' })).rejects.toMatchObject({ code: 'unavailable' });
    await new Promise((resolve) => setTimeout(resolve, 600));
    expect(writes.appends()).toBe(1);
  });

  it('left in flight by a node that died, is stored if it was not, and answers its idem with the ack; without an idem, one never stored is dropped', async () => {
    const store = new MemoryStore();
    const bus = new MemoryBus();
    const stored = message('01JABCDEFGHJKMNPQRSTVWXYZ0', 'stored before the node died');
    const notYet = message('01JABCDEFGHJKMNPQRSTVWXYZ1', 'not stored yet (or its write is still on its way)');
    const dropped = message('01JABCDEFGHJKMNPQRSTVWXYZ2', 'never stored, no idem');
    await store.appendMessage(stored, ['alice', 'bob']);
    for (const [entry, idem] of [[stored, 'k-stored'], [notYet, 'k-not-yet']] as const) {
      expect(await bus.idempotency.claim('alice', idem, entry.id)).toBeUndefined();
      await bus.progress.track('node-a', { message: entry, acceptedAt: entry.ts, idem });
    }
    await bus.progress.track('node-a', { message: dropped, acceptedAt: dropped.ts });
    // The node's next life finishes what its last one left, as a survivor would.
    await startedNode('node-a', store, bus);
    for (const [entry, idem] of [[stored, 'k-stored'], [notYet, 'k-not-yet']] as const) {
      expect(await bus.idempotency.claim('alice', idem, RETRY_ID)).toEqual(ackOf(entry));
    }
    expect((await store.history('dm:alice:bob', { limit: 10 })).messages.map((kept) => kept.id)).toEqual([notYet.id, stored.id]);
    expect(await bus.progress.unsettled('node-a')).toEqual([]);
  });

  it('left in flight by a node that died, never stored, whose idem a retry took after the claim lapsed: dropped, the retry’s copy kept', async () => {
    const store = new MemoryStore();
    const bus = new MemoryBus();
    const taken = message('01JABCDEFGHJKMNPQRSTVWXYZ4', 'its idem taken by a retry still in flight');
    const answered = message('01JABCDEFGHJKMNPQRSTVWXYZ5', 'its idem answered to a retry');
    const lapsed = message('01JABCDEFGHJKMNPQRSTVWXYZ6', 'its claim lapsed, no retry yet');
    const retryAck = { id: RETRY_ID, ts: 1_700_000_001_000, conv: 'dm:alice:bob' };
    // The dead node's claims lapsed (Cassandra stayed down past them), and the sender retried two of them.
    expect(await bus.idempotency.claim('alice', 'k-taken', RETRY_ID)).toBeUndefined();
    expect(await bus.idempotency.claim('alice', 'k-answered', RETRY_ID)).toBeUndefined();
    await bus.idempotency.complete('alice', 'k-answered', retryAck);
    for (const [entry, idem] of [[taken, 'k-taken'], [answered, 'k-answered'], [lapsed, 'k-lapsed']] as const) {
      await bus.progress.track('node-a', { message: entry, acceptedAt: entry.ts, idem });
    }
    await startedNode('node-a', store, bus);
    // The two retried are not stored beside the retries' copies; the third is, and answers its idem.
    expect((await store.history('dm:alice:bob', { limit: 10 })).messages.map((kept) => kept.id)).toEqual([lapsed.id]);
    expect(await bus.idempotency.claim('alice', 'k-taken', RETRY_ID)).toBe('pending');
    expect(await bus.idempotency.claim('alice', 'k-answered', RETRY_ID)).toEqual(retryAck);
    expect(await bus.idempotency.claim('alice', 'k-lapsed', RETRY_ID)).toEqual(ackOf(lapsed));
    expect(await bus.progress.unsettled('node-a')).toEqual([]);
  });

  it('left in flight by a node that died, whose write the store refuses for good, frees its idem for the retry', async () => {
    const store = new MemoryStore();
    const bus = new MemoryBus();
    const refused = message('01JABCDEFGHJKMNPQRSTVWXYZ3', 'refused');
    expect(await bus.idempotency.claim('alice', 'k-refused', refused.id)).toBeUndefined();
    await bus.progress.track('node-a', { message: refused, acceptedAt: refused.ts, idem: 'k-refused' });
    const appendMessage = store.appendMessage.bind(store);
    store.appendMessage = (message, participants) =>
      message.id === refused.id ? Promise.reject(new ChatError('internal', 'Cassandra failed (appendMessage)')) : appendMessage(message, participants);
    await startedNode('node-a', store, bus);
    expect(await bus.idempotency.claim('alice', 'k-refused', RETRY_ID)).toBeUndefined();
    expect(await store.findMessage(refused.conv, refused.id)).toBeUndefined();
  });
});

/**
 * Makes `member`'s groups read open `started` once it has its answer, and return that answer
 * only once `release` is open.
 */
function holdGroupsRead(store: MemoryStore, started: Gate, release: Gate): void {
  const groupsOf = store.groupsOf.bind(store);
  store.groupsOf = async (user: string) => {
    const groups = await groupsOf(user);
    if (user !== 'member') return groups;
    started.open();
    await release.passed;
    return groups;
  };
}

/**
 * Registers `socket` on `node` while another registration's work is held back (`held`, let go
 * 20 ms later), and expects a message `owner` sends to crew from `sender` the moment the
 * registration resolves (its hello out) to reach the socket.
 */
async function expectGroupMessageFromHello(node: ChatNode, socket: ReturnType<typeof recordingConnection>, sender: ChatNode, held: Gate): Promise<void> {
  const sentAtHello = node.connect(socket.connection).then(() => sendAndRoute(sender, 'owner', { group: 'crew' }));
  setTimeout(() => {
    held.open();
  }, 20);
  const { ack } = await sentAtHello;
  await expectFrame(socket.frames, ack.id);
}

/** Sends a message from `from` on `node` and routes it. */
async function sendAndRoute(node: ChatNode, from: string, to: { group: string } | { user: string }): Promise<{ ack: { id: string } }> {
  const { ack, route } = await node.operations.send(from, { to, text: 'hello' });
  await route?.();
  return { ack };
}

/** A message `owner` sends to `to` from `sender` reaches `frames`. */
async function expectMessageReaches(frames: readonly ServerFrame[], sender: ChatNode, to: { group: string } | { user: string }): Promise<void> {
  const { ack } = await sendAndRoute(sender, 'owner', to);
  await expectFrame(frames, ack.id);
}

/** The message `id` reaches `frames`. */
async function expectFrame(frames: readonly ServerFrame[], id: string): Promise<void> {
  await vi.waitFor(() => {
    expect(frames).toContainEqual(expect.objectContaining({ type: 'message', id }));
  });
}
