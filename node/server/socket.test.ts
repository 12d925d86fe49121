import { EventEmitter } from 'node:events';
import { describe, expect, it } from 'vitest';
import { WebSocket } from 'ws';
import type { Logger } from '../../common/log.js';
import type { ChatNode } from '../chat/chat-node.js';
import { EncodedFrame, type ClientConnection } from '../chat/local-sockets.js';
import { NodeMetrics } from '../metrics.js';
import { serveSocket } from './socket.js';

/** The parts of a ws socket the session uses, recording what it was told. */
class FakeSocket extends EventEmitter {
  readyState: number = WebSocket.OPEN;
  bufferedAmount = 0;
  readonly sent: Record<string, unknown>[] = [];
  /** What each send was given: a string, or shared bytes and whether ws was told they are binary. */
  readonly given: { data: string | Buffer; binary: boolean | undefined }[] = [];
  closedWith: number | undefined;
  send(data: string | Buffer, options?: { binary?: boolean }): void {
    this.given.push({ data, binary: options?.binary });
    this.sent.push(JSON.parse(data.toString()) as Record<string, unknown>);
  }
  close(code: number): void {
    this.closedWith = code;
    this.readyState = WebSocket.CLOSING;
  }
  pause(): void {}
  resume(): void {}
  terminate(): void {}
}

const silent = { debug() {}, warn() {}, error() {} } as unknown as Logger;
const limits = { maxBufferedBytes: 1 << 20, abuseLimit: 100, abuseWindowMs: 10_000 };

function fakeNode(connect: (connection: ClientConnection) => Promise<void>): ChatNode {
  return { nodeId: 'n1', metrics: new NodeMetrics(), connect, disconnect: () => Promise.resolve() } as unknown as ChatNode;
}

const message = { type: 'message', id: '01ARZ3NDEKTSV4RRFFQ69G5FAV', conv: 'dm:a:b', from: 'b', to: { user: 'a' }, text: 'hi', ts: 1 } as const;

describe('a socket being registered', () => {
  it('says hello first, then what reached it while it registered, in order', async () => {
    const socket = new FakeSocket();
    let registered!: () => void;
    const node = fakeNode((connection) => {
      connection.send(message);
      connection.send({ ...message, text: 'again' });
      return new Promise((resolve) => (registered = resolve));
    });
    void serveSocket(socket as unknown as WebSocket, { user: 'a', expiresAt: Date.now() + 60_000 }, node, limits, silent);
    expect(socket.sent).toEqual([]);
    registered();
    await new Promise((resolve) => setImmediate(resolve));
    expect(socket.sent.map((frame) => frame.type)).toEqual(['hello', 'message', 'message']);
    expect(socket.sent[2]?.text).toBe('again');
    socket.emit('close');
  });

  it('that cannot be registered gets an error and closes with 1013, nothing held sent', async () => {
    const socket = new FakeSocket();
    const node = fakeNode((connection) => {
      connection.send(message);
      return Promise.reject(new Error('Redis is away'));
    });
    void serveSocket(socket as unknown as WebSocket, { user: 'a', expiresAt: Date.now() + 60_000 }, node, limits, silent);
    await new Promise((resolve) => setImmediate(resolve));
    expect(socket.sent.map((frame) => frame.type)).toEqual(['error']);
    expect(socket.sent[0]?.code).toBe('unavailable');
    expect(socket.closedWith).toBe(1013);
    socket.emit('close');
  });
});

describe('a frame encoded once for many sockets', () => {
  it('is written to each as the same bytes, in a text frame', async () => {
    const sockets = [new FakeSocket(), new FakeSocket()];
    const connections: ClientConnection[] = [];
    const node = fakeNode((connection) => {
      connections.push(connection);
      return Promise.resolve();
    });
    for (const socket of sockets) void serveSocket(socket as unknown as WebSocket, { user: 'a', expiresAt: Date.now() + 60_000 }, node, limits, silent);
    await new Promise((resolve) => setImmediate(resolve));
    const frame = new EncodedFrame(message);
    for (const connection of connections) connection.send(frame);

    for (const socket of sockets) {
      expect(socket.given.at(-1)).toEqual({ data: frame.bytes, binary: false });
      expect(socket.given.at(-1)?.data).toBe(frame.bytes);
      expect(socket.sent.at(-1)).toEqual(message);
      socket.emit('close');
    }
  });
});

describe('frames a client left behind when it closed', () => {
  it('are not answered when they only read, and still run when they change something', async () => {
    const socket = new FakeSocket();
    let registered!: () => void;
    const ran: string[] = [];
    const operations = {
      sync: () => {
        ran.push('sync');
        return Promise.resolve({ messages: [], next: null, cursor: '0' });
      },
      history: () => {
        ran.push('history');
        return Promise.resolve({ messages: [], more: false });
      },
      send: () => {
        ran.push('send');
        return Promise.resolve({ ack: { id: message.id, ts: 1, conv: 'dm:a:b' } });
      },
    };
    const node = Object.assign(fakeNode(() => new Promise<void>((resolve) => (registered = resolve))), { operations });
    const done = serveSocket(socket as unknown as WebSocket, { user: 'a', expiresAt: Date.now() + 60_000 }, node, limits, silent);
    for (const frame of [
      { type: 'sync', ref: 'r1', since: '0' },
      { type: 'send', ref: 'r2', to: { user: 'b' }, text: 'hi' },
      { type: 'history', ref: 'r3', conv: { user: 'b' } },
    ]) {
      socket.emit('message', Buffer.from(JSON.stringify(frame)), false);
    }
    // The client gives up before its socket is registered (a storm's slow hello).
    socket.readyState = WebSocket.CLOSED;
    socket.emit('close');
    registered();
    await done;
    for (let turn = 0; turn < 10; turn++) await new Promise((resolve) => setImmediate(resolve));
    expect(ran).toEqual(['send']);
  });
});
