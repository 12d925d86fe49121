import { describe, expect, it } from 'vitest';
import { createLogger } from '../../common/log.js';
import { MemoryBus } from '../bus/memory/bus.js';
import { NodeMetrics } from '../metrics.js';
import type { ServerFrame } from '../protocol/frames.js';
import { MemoryStore } from '../store/memory-store.js';
import { Delivery } from './delivery.js';
import { type ClientConnection, LocalSockets } from './local-sockets.js';

/** Two nodes on one in-process bus; each reads its inbox only when the test says so. */
function twoNodes() {
  const bus = new MemoryBus();
  const store = new MemoryStore();
  const node = (nodeId: string) => {
    const sockets = new LocalSockets();
    const delivery = new Delivery({
      nodeId,
      store,
      bus,
      sockets,
      metrics: new NodeMetrics(),
      log: createLogger('delivery-test', 'silent'),
      clock: Date.now,
      cursorFor: () => undefined,
    });
    const readInbox = async () => {
      const unsubscribe = await bus.inbox.consume(nodeId, (envelope) => delivery.handleEnvelope(envelope));
      await new Promise((resolve) => setImmediate(resolve));
      await unsubscribe();
    };
    const connect = async (user: string, session: string) => {
      const frames: ServerFrame[] = [];
      const connection: ClientConnection = { user, session, send: (frame) => frames.push(frame), close: () => undefined };
      sockets.add(connection);
      await bus.routes.addSession({ user, node: nodeId, session });
      return { connection, frames };
    };
    return { delivery, sockets, readInbox, connect };
  };
  return { bus, nodes: [node('n1'), node('n2')] as const };
}

describe('group membership across nodes', () => {
  it('advertises every node hosting the joining user before the join returns, ahead of their inbox', async () => {
    const { bus, nodes } = twoNodes();
    const [n1, n2] = nodes;
    await n1.connect('late', 's1');
    await n2.connect('late', 's2');

    await n1.delivery.announceMembership('late', 'g', true);

    // n2 has not read its inbox yet: a message sent now must still be routed to it.
    expect((await bus.routes.groupNodes('g')).sort()).toEqual(['n1', 'n2']);
    await n2.readInbox();
    expect(n2.sockets.membersOf('g')).toEqual(['late']);
    expect((await bus.routes.groupNodes('g')).sort()).toEqual(['n1', 'n2']);
  });

  it('withdraws that advertisement when the user’s socket left the other node before it read the news', async () => {
    const { bus, nodes } = twoNodes();
    const [n1, n2] = nodes;
    await n1.connect('late', 's1');
    const other = await n2.connect('late', 's2');

    await n1.delivery.announceMembership('late', 'g', true);
    n2.sockets.remove(other.connection);
    await n2.readInbox();

    expect(await bus.routes.groupNodes('g')).toEqual(['n1']);
  });

  it('keeps the other node advertised when it hosts another member', async () => {
    const { bus, nodes } = twoNodes();
    const [n1, n2] = nodes;
    await n1.connect('late', 's1');
    const other = await n2.connect('late', 's2');
    await n2.connect('early', 's3');
    await n2.delivery.hostGroup('early', 'g');

    await n1.delivery.announceMembership('late', 'g', true);
    n2.sockets.remove(other.connection);
    await n2.readInbox();

    expect((await bus.routes.groupNodes('g')).sort()).toEqual(['n1', 'n2']);
  });
});
