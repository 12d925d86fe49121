import { performance } from 'node:perf_hooks';
import { fileURLToPath } from 'node:url';
import { io, type Socket } from 'socket.io-client';
import type { FrameHandler } from '../bench-socket.js';
import { peerRequest, replyTo, type SendTarget } from './chat-frames.js';
import { stopChild } from '../lifecycle.js';
import { startListeningChild, type ListeningChild } from '../listening-child.js';
import type { CatchUp, StormSocket } from '../reconnect-storm.js';
import type { LoadTarget } from '../targets.js';

const SERVER_MAIN = fileURLToPath(new URL('./socket-io-server.ts', import.meta.url));

export interface SocketIoServerOptions {
  /** The environment they start in, besides their settings (default: this process's). */
  env?: NodeJS.ProcessEnv;
  /** Connection state recovery on (default: off, as Socket.IO's default). */
  recovery?: boolean;
}

/** Starts `count` Socket.IO servers sharing one Redis stream; resolves once all listen. */
export async function startSocketIoServers(count: number, redisUrl: string, stream: string, { env: baseEnv = process.env, recovery = false }: SocketIoServerOptions = {}): Promise<ListeningChild[]> {
  const env = { ...baseEnv, BENCH_REDIS_URL: redisUrl, BENCH_REDIS_STREAM: stream, BENCH_SOCKET_IO_RECOVERY: recovery ? '1' : '0' };
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

export function socketIoUrl(server: ListeningChild): string {
  return `http://127.0.0.1:${server.port}`;
}

/** Socket.IO servers as a load target: the user in the handshake, WebSocket transport only. */
export function socketIoTarget(servers: readonly ListeningChild[]): LoadTarget {
  return {
    name: 'socket.io',
    nodeCount: servers.length,
    open(user, node) {
      const server = servers[node % servers.length];
      if (server === undefined) throw new Error('no Socket.IO server to connect to');
      return SocketIoLoadSocket.open(socketIoUrl(server), user);
    },
  };
}

/**
 * Where a Socket.IO client resumes: its session's private id and the offset of the last
 * packet it got, which it presents on reconnecting. socket.io-client presents them by itself
 * only when its Manager reconnects to the same URL (a load balancer's); the storm picks the
 * surviving server itself, so it carries them to the new client's handshake.
 */
export interface SocketIoPosition {
  pid?: string;
  offset?: string;
}

/** The client's own record of its session (socket.io-client keeps these private). */
interface SessionFields {
  _pid?: string;
  _lastOffset?: string;
}

/** How to open: on servers with connection state recovery; resuming from a position; handing frames to `onFrame` from the start. */
export interface SocketIoOpenOptions {
  recovery?: boolean;
  resume?: SocketIoPosition;
  /** A recovery's replayed messages arrive before the open resolves: a handler set only then would miss them. */
  onFrame?: FrameHandler;
  timeoutMs?: number;
  /** Once the transport is open, the wait for CONNECT (the server restores first) and `ready` (default: none beyond timeoutMs from the start). socket.io-client bounds only the transport's open. */
  connectTimeoutMs?: number;
}

/**
 * A socket.io-client socket speaking the generator's frames: `send` → emit with ack, creating
 * or joining a group → joining its room; `message` events → message frames (those replayed
 * by a recovery, which arrive before the connect, marked `caughtUp`).
 */
export class SocketIoLoadSocket implements StormSocket<SocketIoPosition> {
  onFrame: FrameHandler = () => undefined;
  /** Never called: Socket.IO has no way to ask a client to go before it closes. */
  onDrain: (reconnectAfterMs: number, at: number) => void = () => undefined;
  onEnd: (how: string, at: number) => void = () => undefined;
  private connected = false;

  private constructor(
    private readonly socket: Socket,
    private readonly resumedPid: string | undefined,
  ) {
    socket.on('message', (message: { text?: unknown }) => {
      // A recovered session's missed packets come before the connect event.
      this.onFrame({ type: 'message', text: message.text, caughtUp: !this.connected }, performance.now());
    });
    socket.on('disconnect', (reason: string) => { this.onEnd(reason, performance.now()); });
  }

  static open(url: string, user: string, options: SocketIoOpenOptions = {}): Promise<SocketIoLoadSocket> {
    const { recovery = false, resume = {}, onFrame, timeoutMs = 10_000, connectTimeoutMs } = options;
    const session = resume.pid !== undefined && resume.offset !== undefined ? { pid: resume.pid, offset: resume.offset } : {};
    // forceNew: one connection per user, as separate clients have (io() would multiplex them all on one).
    const socket = io(url, { auth: { user, ...session }, transports: ['websocket'], forceNew: true, reconnection: false, timeout: timeoutMs });
    const wrapped = new SocketIoLoadSocket(socket, session.pid);
    if (onFrame !== undefined) wrapped.onFrame = onFrame;
    return new Promise((resolve, reject) => {
      let timer: NodeJS.Timeout | undefined;
      const fail = (why: string): void => {
        clearTimeout(timer);
        socket.off('disconnect', dropped);
        socket.disconnect();
        reject(new Error(`Socket.IO: ${user} ${why}`));
      };
      const dropped = (reason: string): void => { fail(`dropped by ${url} before ready: ${reason}`); };
      const wait = (ms: number, what: string): void => {
        clearTimeout(timer);
        timer = setTimeout(() => { fail(`${what} on ${url} within ${ms} ms`); }, ms);
      };
      wait(timeoutMs, 'not ready');
      // Only a client told to wait longer once its transport is open gets a second deadline; any other keeps the first.
      if (connectTimeoutMs !== undefined) socket.io.once('open', () => { wait(connectTimeoutMs, 'transport open, not ready'); });
      socket.once('disconnect', dropped);
      const ready = (): void => {
        clearTimeout(timer);
        socket.off('disconnect', dropped);
        resolve(wrapped);
      };
      socket.once('connect', () => {
        wrapped.connected = true;
        // With recovery on, a fresh session is ready once its first event gave it an offset.
        if (recovery && !wrapped.recovered) socket.once('ready', ready);
        else ready();
      });
      socket.once('connect_error', (error: Error) => { fail(`could not connect to ${url}: ${error.message}`); });
    });
  }

  /**
   * The server restored the session presented: it kept its id. (socket.io-client's own
   * `recovered` compares with the pid this client object had before, which a new client
   * object never has: it is always false here.)
   */
  private get recovered(): boolean {
    return this.resumedPid !== undefined && (this.socket as unknown as SessionFields)._pid === this.resumedPid;
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

  /** Recovery came with the connect (its replayed messages before it): says whether the session was restored. */
  catchUp(): Promise<CatchUp> {
    return Promise.resolve({ pages: 0, complete: this.recovered });
  }

  position(): SocketIoPosition {
    const { _pid: pid, _lastOffset: offset } = this.socket as unknown as SessionFields;
    return { ...(pid === undefined ? {} : { pid }), ...(offset === undefined ? {} : { offset }) };
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
