import { afterEach, describe, expect, it, vi } from 'vitest';
import { createLogger } from '../../common/log.js';
import { MemoryBus } from '../bus/memory/bus.js';
import type { ServerFrame } from '../protocol/frames.js';
import { MemoryStore } from '../store/memory-store.js';
import type { SessionRecord } from '../store/store.js';
import { recordingConnection } from '../../test/support/recording-connection.js';
import { Gate } from '../../test/support/gate.js';
import { ChatNode } from './chat-node.js';

const log = createLogger('chat-node-test', 'silent');
const running: ChatNode[] = [];

/** Two nodes of one cluster on the embedded store and bus (one instance serves both, as in the embedded node). */
async function twoNodes(): Promise<{ store: MemoryStore; bus: MemoryBus; nodes: [ChatNode, ChatNode] }> {
  const store = new MemoryStore();
  const bus = new MemoryBus();
  const make = (id: string): ChatNode =>
    new ChatNode({ nodeId: id, address: `${id}:9090`, store, bus, log, limits: { maxTextBytes: 4096, messagesPerSecondPerUser: 100 }, heartbeatMs: 60_000 });
  const nodes: [ChatNode, ChatNode] = [make('node-a'), make('node-b')];
  for (const node of nodes) {
    await node.start();
    running.push(node);
  }
  return { store, bus, nodes };
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
    const { store, nodes: [here, elsewhere] } = await twoNodes();
    await elsewhere.operations.createGroup('owner', 'crew');
    await elsewhere.operations.joinGroup('member', 'crew');
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

/** Sends a message from `from` on `node` and routes it. */
async function sendAndRoute(node: ChatNode, from: string, to: { group: string } | { user: string }): Promise<{ ack: { id: string } }> {
  const { ack, route } = await node.operations.send(from, { to, text: 'hello' });
  await route?.();
  return { ack };
}

/** A message `owner` sends to `to` from `sender` reaches `frames`. */
async function expectMessageReaches(frames: readonly ServerFrame[], sender: ChatNode, to: { group: string } | { user: string }): Promise<void> {
  const { ack } = await sendAndRoute(sender, 'owner', to);
  await vi.waitFor(() => {
    expect(frames).toContainEqual(expect.objectContaining({ type: 'message', id: ack.id }));
  });
}
