import { afterEach, describe, expect, it, vi } from 'vitest';
import { createLogger } from '../../common/log.js';
import { MemoryBus } from '../bus/memory/bus.js';
import type { ServerFrame } from '../protocol/frames.js';
import { MemoryStore } from '../store/memory-store.js';
import type { SessionRecord } from '../store/store.js';
import { ChatNode } from './chat-node.js';
import { EncodedFrame, type ClientConnection, type OutgoingFrame } from './local-sockets.js';

const log = createLogger('chat-node-test', 'silent');
const running: ChatNode[] = [];

/** Two nodes of one cluster on the embedded store and bus (one instance serves both, as in the embedded node). */
async function twoNodes(): Promise<{ bus: MemoryBus; nodes: [ChatNode, ChatNode] }> {
  const store = new MemoryStore();
  const bus = new MemoryBus();
  const make = (id: string): ChatNode =>
    new ChatNode({ nodeId: id, address: `${id}:9090`, store, bus, log, limits: { maxTextBytes: 4096, messagesPerSecondPerUser: 100 }, heartbeatMs: 60_000 });
  const nodes: [ChatNode, ChatNode] = [make('node-a'), make('node-b')];
  for (const node of nodes) {
    await node.start();
    running.push(node);
  }
  return { bus, nodes };
}

function socketOf(user: string, session: string): { connection: ClientConnection; frames: ServerFrame[] } {
  const frames: ServerFrame[] = [];
  const connection: ClientConnection = {
    user,
    session,
    send: (frame: OutgoingFrame) => frames.push(frame instanceof EncodedFrame ? frame.frame : frame),
    close: () => undefined,
  };
  return { connection, frames };
}

afterEach(async () => {
  await Promise.all(running.splice(0).map((node) => node.stop()));
});

describe('a socket registering while its user joins a group on another node', () => {
  it('gets the group’s messages, the join landing while the socket’s route is still on its way', async () => {
    const { bus, nodes: [here, elsewhere] } = await twoNodes();
    await elsewhere.operations.createGroup('owner', 'crew');
    // The route of the socket below reaches the bus only once the join has been answered.
    let routeMayLand: () => void = () => undefined;
    const joinAnswered = new Promise<void>((resolve) => {
      routeMayLand = resolve;
    });
    const addSession = bus.routes.addSession.bind(bus.routes);
    bus.routes.addSession = async (session: SessionRecord) => {
      await joinAnswered;
      return addSession(session);
    };

    const member = socketOf('member', 'session-1');
    const registering = here.connect(member.connection);
    await elsewhere.operations.joinGroup('member', 'crew');
    routeMayLand();
    await registering;

    const { ack, route } = await elsewhere.operations.send('owner', { to: { group: 'crew' }, text: 'welcome aboard' });
    await route?.();
    await vi.waitFor(() => {
      expect(member.frames).toContainEqual(expect.objectContaining({ type: 'message', id: ack.id }));
    });
  });
});
