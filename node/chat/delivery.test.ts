import { describe, expect, it } from 'vitest';
import { createLogger } from '../../common/log.js';
import { MemoryBus } from '../bus/memory/bus.js';
import { NodeMetrics } from '../metrics.js';
import { MemoryStore } from '../store/memory-store.js';
import { recordingConnection } from '../../test/support/recording-connection.js';
import { Delivery } from './delivery.js';
import { EncodedFrame, LocalSockets } from './local-sockets.js';

/** Two nodes' Delivery on one in-process bus (no ChatNode around them); each reads its inbox only when the test says so. */
function twoDeliveries() {
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
      const socket = recordingConnection(user, session);
      sockets.add(socket.connection);
      await bus.routes.addSession({ user, node: nodeId, session });
      return socket;
    };
    return { delivery, sockets, readInbox, connect };
  };
  return { bus, nodes: [node('n1'), node('n2')] as const };
}

describe('group membership across nodes', () => {
  it('advertises every node hosting the joining user before the join returns, ahead of their inbox', async () => {
    const { bus, nodes } = twoDeliveries();
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
    const { bus, nodes } = twoDeliveries();
    const [n1, n2] = nodes;
    await n1.connect('late', 's1');
    const other = await n2.connect('late', 's2');

    await n1.delivery.announceMembership('late', 'g', true);
    n2.sockets.remove(other.connection);
    await n2.readInbox();

    expect(await bus.routes.groupNodes('g')).toEqual(['n1']);
  });

  it('keeps the other node advertised when it hosts another member', async () => {
    const { bus, nodes } = twoDeliveries();
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

describe('a message to many local sockets', () => {
  it('is serialized once per cursor given, and each socket gets its own cursor', async () => {
    const sockets = new LocalSockets();
    const cursors = new Map<string, string | undefined>([
      ['s1', 'c-1'],
      ['s2', 'c-1'],
      ['s3', 'c-2'],
      ['s4', undefined],
    ]);
    const delivery = new Delivery({
      nodeId: 'n1',
      store: new MemoryStore(),
      bus: new MemoryBus(),
      sockets,
      metrics: new NodeMetrics(),
      log: createLogger('delivery-test', 'silent'),
      clock: Date.now,
      cursorFor: (connection) => cursors.get(connection.session),
    });
    const sent = new Map<string, EncodedFrame>();
    for (const [index, session] of [...cursors.keys()].entries()) {
      const user = `member-${String(index)}`;
      sockets.add({
        user,
        session,
        send: (frame) => {
          if (!(frame instanceof EncodedFrame)) throw new Error('a message frame should come encoded');
          sent.set(session, frame);
        },
        close: () => undefined,
      });
      sockets.joinGroup(user, 'g');
    }
    const message = { id: '01JDELIVERYTEST00000000000', conv: 'g:g', from: 'someone', to: { group: 'g' }, text: 'hi', ts: 1 };

    await delivery.handleEnvelope({ kind: 'message', message, acceptedAt: Date.now() });

    expect(sent.get('s1')).toBe(sent.get('s2'));
    expect(new Set([sent.get('s1'), sent.get('s3'), sent.get('s4')]).size).toBe(3);
    for (const [session, cursor] of cursors) {
      const frame = sent.get(session);
      expect(JSON.parse(frame?.bytes.toString() ?? 'null')).toEqual(frame?.frame);
      expect(frame?.frame).toEqual(cursor === undefined ? { type: 'message', ...message } : { type: 'message', ...message, cursor });
    }
  });
});
