import { performance } from 'node:perf_hooks';
import { fileURLToPath } from 'node:url';
import { io, type Socket } from 'socket.io-client';
import type { Frame, LoadSocket } from '../bench-socket.js';
import { roomRequest } from './direct-send.js';
import { startListeningChild, type ListeningChild } from '../listening-child.js';
import type { LoadTarget } from '../targets.js';

const SERVER_MAIN = fileURLToPath(new URL('./socket-io-server.ts', import.meta.url));

/** Starts `count` Socket.IO servers sharing one Redis stream; resolves once all listen. */
export async function startSocketIoServers(count: number, redisUrl: string, stream: string): Promise<ListeningChild[]> {
  const env = { ...process.env, BENCH_REDIS_URL: redisUrl, BENCH_REDIS_STREAM: stream };
  const servers: ListeningChild[] = [];
  for (let index = 0; index < count; index++) servers.push(await startListeningChild(`Socket.IO server ${index}`, SERVER_MAIN, env));
  return servers;
}

/** Socket.IO servers as a load target: the user in the handshake, WebSocket transport only. */
export function socketIoTarget(servers: readonly ListeningChild[]): LoadTarget {
  return {
    name: 'socket.io',
    nodeCount: servers.length,
    open(user, node) {
      const server = servers[node % servers.length];
      if (server === undefined) throw new Error('no Socket.IO server to connect to');
      return SocketIoLoadSocket.open(`http://127.0.0.1:${server.port}`, user);
    },
  };
}

/**
 * A socket.io-client socket speaking the generator's frames: `send` → emit with ack, group
 * frames → rooms (roomRequest); `message` events → message frames.
 */
class SocketIoLoadSocket implements LoadSocket {
  onFrame: (frame: Frame, receivedAt: number) => void = () => undefined;

  private constructor(private readonly socket: Socket) {
    socket.on('message', (message: { text?: unknown }) => {
      this.onFrame({ type: 'message', text: message.text }, performance.now());
    });
  }

  static open(url: string, user: string, timeoutMs = 10_000): Promise<SocketIoLoadSocket> {
    // forceNew: one connection per user, as separate clients have (io() would multiplex them all on one).
    const socket = io(url, { auth: { user }, transports: ['websocket'], forceNew: true, reconnection: false, timeout: timeoutMs });
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => {
        socket.disconnect();
        reject(new Error(`Socket.IO: ${user} not connected to ${url} within ${timeoutMs} ms`));
      }, timeoutMs);
      socket.once('connect', () => {
        clearTimeout(timer);
        resolve(new SocketIoLoadSocket(socket));
      });
      socket.once('connect_error', (error: Error) => {
        clearTimeout(timer);
        socket.disconnect();
        reject(new Error(`Socket.IO: ${user} could not connect to ${url}: ${error.message}`));
      });
    });
  }

  get isOpen(): boolean {
    return this.socket.connected;
  }

  send(frame: Record<string, unknown>): void {
    const request = roomRequest(frame);
    const { ref } = request;
    const answered = (ok: { type: string; ref: string }) => (answer: { ok?: boolean; error?: string }) => {
      const at = performance.now();
      this.onFrame(answer.ok === true ? ok : { type: 'error', code: answer.error ?? 'unknown', ref }, at);
    };
    if (request.kind === 'join') this.socket.emit('join', { room: request.room }, answered({ type: request.reply, ref }));
    else this.socket.emit('send', { to: request.room, text: request.text, exceptSender: request.exceptSender }, answered({ type: 'ack', ref }));
  }

  close(): Promise<void> {
    this.socket.disconnect();
    return Promise.resolve();
  }
}
