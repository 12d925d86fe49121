import { once } from 'node:events';
import type { Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterEach, describe, expect, it, vi } from 'vitest';
import { WebSocket } from 'ws';
import { createLogger } from '../../common/log.js';
import { mintToken, tokenVerifier } from '../auth/tokens.js';
import { MemoryBus } from '../bus/memory/bus.js';
import { ChatNode } from '../chat/chat-node.js';
import { MemoryStore } from '../store/memory-store.js';
import { createPublicServer } from './public-server.js';

const SECRET = 'a-test-secret-of-at-least-32-chars!!';
const PING_INTERVAL_MS = 100;
const log = createLogger('public-server-test', 'silent');
const cleanUps: (() => Promise<void>)[] = [];

afterEach(async () => {
  for (const cleanUp of cleanUps.splice(0).reverse()) await cleanUp();
});

/** An embedded node behind its public port, pinging its sockets every PING_INTERVAL_MS. */
async function servingNode(): Promise<{ node: ChatNode; wsUrl: string }> {
  const node = new ChatNode({ nodeId: 'node-a', address: 'node-a:9090', store: new MemoryStore(), bus: new MemoryBus(), log, limits: { maxTextBytes: 4096, messagesPerSecondPerUser: 100 }, heartbeatMs: 60_000 });
  await node.start();
  const server: Server = createPublicServer({
    node,
    verifier: tokenVerifier({ kind: 'secret', secret: SECRET }),
    log,
    maxFrameBytes: 65536,
    socketLimits: { maxBufferedBytes: 1 << 20, abuseLimit: 100, abuseWindowMs: 10_000 },
    socketOpening: { atOnce: 8, maxWaiting: 8 },
    pingIntervalMs: PING_INTERVAL_MS,
  });
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  cleanUps.push(async () => {
    server.close();
    await node.stop();
  });
  return { node, wsUrl: `ws://127.0.0.1:${(server.address() as AddressInfo).port}/ws` };
}

/** A socket of `user` that has had its hello; `autoPong: false` plays a client that vanished (a half-open connection). */
async function openSocket(wsUrl: string, user: string, options: { autoPong: boolean }): Promise<WebSocket> {
  const socket = new WebSocket(wsUrl, { headers: { authorization: `Bearer ${await mintToken(SECRET, user)}` }, autoPong: options.autoPong });
  cleanUps.push(() => {
    socket.terminate();
    return Promise.resolve();
  });
  await once(socket, 'message');
  return socket;
}

describe('the public port’s liveness pings', () => {
  it('drop a socket that stops answering pings, taking it out of the cluster, and keep one that answers', async () => {
    const { node, wsUrl } = await servingNode();
    const answering = await openSocket(wsUrl, 'alice', { autoPong: true });
    const silent = await openSocket(wsUrl, 'bob', { autoPong: false });
    let pings = 0;
    answering.on('ping', () => (pings += 1));
    const [code] = (await once(silent, 'close')) as [number];

    // Terminated, not closed with a handshake: the client is presumed gone.
    expect(code).toBe(1006);
    await vi.waitFor(() => {
      expect(node.sockets.hasUser('bob')).toBe(false);
    });
    // The answering socket was pinged on every sweep meanwhile and stays open.
    await new Promise((resolve) => setTimeout(resolve, 4 * PING_INTERVAL_MS));
    expect(pings).toBeGreaterThanOrEqual(4);
    expect(answering.readyState).toBe(WebSocket.OPEN);
    expect(node.sockets.hasUser('alice')).toBe(true);
  });

  it('take a frame from the client for an answer: a client busy sending, whose pongs lag, is not dropped', async () => {
    const { node, wsUrl } = await servingNode();
    const busy = await openSocket(wsUrl, 'carol', { autoPong: false });
    const sending = setInterval(() => {
      busy.send(JSON.stringify({ type: 'groups' }));
    }, PING_INTERVAL_MS / 4);
    try {
      await new Promise((resolve) => setTimeout(resolve, 6 * PING_INTERVAL_MS));
      expect(busy.readyState).toBe(WebSocket.OPEN);
      expect(node.sockets.hasUser('carol')).toBe(true);
    } finally {
      clearInterval(sending);
    }
  });
});
