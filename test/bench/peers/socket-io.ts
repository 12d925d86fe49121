import { performance } from 'node:perf_hooks';
import { fileURLToPath } from 'node:url';
import { io, type Socket } from 'socket.io-client';
import type { Frame, LoadSocket } from '../bench-socket.js';
import { peerRequest, replyTo, type SendTarget } from './chat-frames.js';
import { stopChild } from '../lifecycle.js';
import { startListeningChild, type ListeningChild } from '../listening-child.js';
import type { LoadTarget } from '../targets.js';

const SERVER_MAIN = fileURLToPath(new URL('./socket-io-server.ts', import.meta.url));

/** Starts `count` Socket.IO servers sharing one Redis stream, in `baseEnv` and this; resolves once all listen. */
export async function startSocketIoServers(count: number, redisUrl: string, stream: string, baseEnv: NodeJS.ProcessEnv = process.env): Promise<ListeningChild[]> {
  const env = { ...baseEnv, BENCH_REDIS_URL: redisUrl, BENCH_REDIS_STREAM: stream };
  const servers: ListeningChild[] = [];
  try {
    for (let index = 0; index < count; index++) servers.push(await startListeningChild(`Socket.IO server ${index}`, SERVER_MAIN, env));
  } catch (error) {
    // The ones that started would otherwise read the shared Redis through later measurements.
    await Promise.all(servers.map((server) => stopChild(server.child)));
    throw error;
  }
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
 * A socket.io-client socket speaking the generator's frames: `send` → emit with ack, creating
 * or joining a group → joining its room; `message` events → message frames.
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
    const request = peerRequest(frame);
    const { ref } = request;
    const answered = (answer: { ok?: boolean; error?: string }): void => {
      this.onFrame(answer.ok === true ? { type: replyTo(request), ref } : { type: 'error', code: answer.error ?? 'unknown', ref }, performance.now());
    };
    if (request.kind === 'send') this.socket.emit('send', sendEvent(request.to, request.text), answered);
    else this.socket.emit('join', { room: groupRoom(request.group) }, answered);
  }

  close(): Promise<void> {
    this.socket.disconnect();
    return Promise.resolve();
  }
}

/**
 * A group's members are the sockets in the room `g:<group>` (user ids hold no ':', so no
 * user's own room has that name). A group message skips the sender's socket, as chat's does.
 */
function groupRoom(group: string): string {
  return `g:${group}`;
}

function sendEvent(to: SendTarget, text: string): { to: string; text: string; exceptSender: boolean } {
  return 'user' in to ? { to: to.user, text, exceptSender: false } : { to: groupRoom(to.group), text, exceptSender: true };
}
