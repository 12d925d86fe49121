import { randomUUID } from 'node:crypto';
import { WebSocket, type RawData } from 'ws';
import type { Logger } from '../../common/log.js';
import type { Identity } from '../auth/tokens.js';
import type { ChatNode } from '../chat/chat-node.js';
import { EncodedFrame, type ClientConnection, type OutgoingFrame } from '../chat/local-sockets.js';
import { AbuseMeter } from '../chat/rate-limit.js';
import { CLOSE_POLICY_VIOLATION, CLOSE_TOKEN_EXPIRED, CLOSE_TRY_AGAIN_LATER } from '../protocol/close-codes.js';
import { asChatError, ChatError } from '../protocol/errors.js';
import { parseClientFrame, PROTOCOL_VERSION, refOf } from '../protocol/frames.js';
import { answerFrame, onlyAnswered } from './answer-frame.js';

const MAX_TIMER_MS = 2 ** 31 - 1;
/** Frames of one socket waiting to be answered before the node stops reading from it. */
const MAX_PENDING_FRAMES = 64;
/** How long a close asked for by the node (a drain) waits for the frames already received to be answered. */
const ANSWER_BEFORE_CLOSE_MS = 2_000;
const SETTLED: Promise<void> = Promise.resolve();

export interface SocketLimits {
  /** A socket whose unsent bytes exceed this is a slow consumer and is dropped; its client re-syncs. */
  maxBufferedBytes: number;
  /** Bad frames or rate-limited sends tolerated per `abuseWindowMs` before closing with 1008. */
  abuseLimit: number;
  abuseWindowMs: number;
}

/**
 * Serves one authenticated WebSocket: hello, then frames in order, each answered or
 * failed with an `error` frame (the socket stays open), until it closes; then takes it
 * out of the cluster. Failures of its own are logged here. Resolves once the socket is
 * registered and its `hello` went (true), or its registration failed (false).
 */
export function serveSocket(socket: WebSocket, identity: Identity, node: ChatNode, limits: SocketLimits, log: Logger): Promise<boolean> {
  return new SocketSession(socket, identity, node, limits, log).start();
}

/**
 * Pings each socket served here among `connections`, dropping those that did not answer the
 * previous ping (SocketSession.checkAlive). Called by one timer for the whole node, not one
 * per socket: a timer is memory every idle socket would pay.
 */
export function checkSocketsAlive(connections: Iterable<ClientConnection>): void {
  for (const connection of connections) {
    if (connection instanceof SocketSession) connection.checkAlive();
  }
}

/**
 * One socket's state. A class rather than closures: an idle socket costs what its fields
 * cost, and thousands of idle sockets are what a chat node mostly holds.
 */
class SocketSession implements ClientConnection {
  readonly user: string;
  readonly session = randomUUID();
  /** A close asked for by the node is under way: frames not yet answered are refused. */
  private closing = false;
  /** Until `hello` has gone, frames for this socket (a message routed here while it registers) wait here, in order. */
  private held: OutgoingFrame[] | undefined = [];
  /** Frames are answered one at a time in arrival order, after the registration. */
  private queue: Promise<void> = SETTLED;
  private pending = 0;
  /** This socket's messages are routed in the order they were acked, on a chain of their own. */
  private routing: Promise<void> = SETTLED;
  private registration: Promise<boolean> = SETTLED.then(() => false);
  private expiry: NodeJS.Timeout | undefined;
  private abuse: AbuseMeter | undefined;
  /** A ping went out and no pong has come back since. */
  private pingUnanswered = false;

  constructor(
    private readonly socket: WebSocket,
    private readonly identity: Identity,
    private readonly node: ChatNode,
    private readonly limits: SocketLimits,
    private readonly log: Logger,
  ) {
    this.user = identity.user;
  }

  start(): Promise<boolean> {
    const { socket } = this;
    // ws reports protocol violations (an oversized frame, which it closes with 1009) as
    // 'error' events; unhandled, one would take the whole process down.
    socket.on('error', (error) => {
      this.log.debug({ err: error, user: this.user }, 'socket error');
    });
    socket.on('close', () => {
      this.finish().catch((error: unknown) => {
        this.log.error({ err: error }, 'socket failed');
      });
    });
    socket.on('pong', () => {
      this.pingUnanswered = false;
    });
    this.registration = this.register();
    this.queue = this.registration.then(() => undefined);
    // A client that sends faster than its frames are answered is paused (TCP back-pressure)
    // rather than queued without bound.
    socket.on('message', (data: RawData, isBinary: boolean) => {
      // A frame read is as good an answer as a pong: the client is there.
      this.pingUnanswered = false;
      this.pending += 1;
      if (this.pending === MAX_PENDING_FRAMES) socket.pause();
      this.queue = this.queue
        .then(nextTurn)
        .then(() => this.answer(data, isBinary))
        .finally(() => {
          this.answered();
        });
    });
    this.closeWhenExpired();
    return this.registration;
  }

  /** Queues a frame; a connection over its send-buffer bound is dropped instead. */
  send(frame: OutgoingFrame): void {
    if (this.held !== undefined) {
      this.held.push(frame);
      return;
    }
    this.write(frame);
  }

  /**
   * Closes the socket at the node's request (a drain). The frame being answered finishes
   * first (a send in progress gets its ack); those still queued behind it are refused in
   * words, not stored after their socket is gone.
   */
  close(code: number, reason: string): void {
    if (this.closing) return;
    this.closing = true;
    const answered = Promise.race([this.queue, new Promise((resolve) => setTimeout(resolve, ANSWER_BEFORE_CLOSE_MS).unref())]);
    void answered.then(() => {
      this.socket.close(code, reason);
    });
  }

  /**
   * Pings the client, or drops the socket when the previous ping got no answer: the client is
   * gone without a close (a half-open connection), which TCP may not notice for hours, and
   * the socket would keep its user online and take their messages meanwhile. The drop closes
   * the socket, which leaves the cluster as any closed socket does. A socket paused for
   * back-pressure is not checked: its reads stop, its client's pong with them, and the
   * client is there (its frames are what filled the queue).
   */
  checkAlive(): void {
    if (this.socket.readyState !== WebSocket.OPEN) return;
    if (this.pending >= MAX_PENDING_FRAMES) {
      this.pingUnanswered = false;
      return;
    }
    if (this.pingUnanswered) {
      this.log.debug({ user: this.user }, 'dropping a socket that did not answer a ping');
      this.socket.terminate();
      return;
    }
    this.pingUnanswered = true;
    this.socket.ping();
  }

  private write(frame: OutgoingFrame): void {
    const { socket } = this;
    if (socket.readyState !== WebSocket.OPEN) return;
    if (socket.bufferedAmount > this.limits.maxBufferedBytes) {
      // A close frame would queue behind the backlog; drop the connection at once instead.
      this.node.metrics.slowConsumersClosed.inc();
      socket.terminate();
      return;
    }
    // Bytes shared with other sockets are sent as they are, in a text frame (ws only reads them).
    if (frame instanceof EncodedFrame) socket.send(frame.bytes, { binary: false });
    else socket.send(JSON.stringify(frame));
  }

  /** Registers the socket in the cluster, then says hello, then what came for it meanwhile. */
  private async register(): Promise<boolean> {
    try {
      await this.node.connect(this);
    } catch (error) {
      this.log.warn({ err: error, user: this.user }, 'could not register a new socket');
      this.held = undefined;
      this.closing = true;
      this.write({ type: 'error', code: 'unavailable', message: 'cannot serve this socket now; reconnect later' });
      this.socket.close(CLOSE_TRY_AGAIN_LATER, 'unavailable');
      return false;
    }
    const held = this.held ?? [];
    this.held = undefined;
    this.write({ type: 'hello', protocol: PROTOCOL_VERSION, node: this.node.nodeId, user: this.user, session: this.session });
    for (const frame of held) this.write(frame);
    return true;
  }

  private async answer(data: RawData, isBinary: boolean): Promise<void> {
    if (this.closing) {
      this.reportError(new ChatError('unavailable', 'this node is closing the socket; reconnect and send again'), isBinary ? undefined : refOf(rawText(data)));
      return;
    }
    if (isBinary) {
      this.reportError(new ChatError('bad_request', 'binary frames are not supported; send JSON text frames'), undefined);
      return;
    }
    const text = rawText(data);
    try {
      const frame = parseClientFrame(text);
      if (this.socket.readyState !== WebSocket.OPEN && onlyAnswered(frame)) return;
      const reply = await answerFrame(this.node, this, frame, this.routeInOrder);
      if (reply !== undefined) this.send(reply);
    } catch (error) {
      const chatError = asChatError(error);
      if (chatError.code === 'internal') this.log.error({ err: error, user: this.user }, 'frame failed');
      this.reportError(chatError, refOf(text));
    }
  }

  private answered(): void {
    this.pending -= 1;
    if (this.pending === MAX_PENDING_FRAMES - 1) this.socket.resume();
  }

  /** The next frame need not wait for the previous message's routing, but messages are routed in ack order. */
  private readonly routeInOrder = (route: () => Promise<void>): void => {
    this.routing = this.routing.then(route);
  };

  private reportError(error: ChatError, ref: string | undefined): void {
    this.node.metrics.errors.inc({ code: error.code });
    this.send({ type: 'error', ...(ref === undefined ? {} : { ref }), code: error.code, message: error.message });
    if (error.code !== 'bad_request' && error.code !== 'rate_limited') return;
    this.abuse ??= new AbuseMeter(this.limits.abuseLimit, this.limits.abuseWindowMs);
    if (this.abuse.offend(Date.now())) this.socket.close(CLOSE_POLICY_VIOLATION, 'too many bad or rate-limited frames');
  }

  /** Closes the socket when its token expires; setTimeout takes at most 2^31-1 ms (24.8 days), so a longer token is checked again then. */
  private closeWhenExpired(): void {
    const remaining = this.identity.expiresAt - Date.now();
    this.expiry = setTimeout(
      () => {
        if (this.identity.expiresAt - Date.now() > 0) this.closeWhenExpired();
        else this.socket.close(CLOSE_TOKEN_EXPIRED, 'token expired');
      },
      Math.min(Math.max(0, remaining), MAX_TIMER_MS),
    );
    this.expiry.unref();
  }

  /** After the socket closed: the frames and routing under way finish, then the socket leaves the cluster. */
  private async finish(): Promise<void> {
    clearTimeout(this.expiry);
    const registered = await this.registration;
    await this.queue;
    await this.routing;
    if (registered) await this.node.disconnect(this);
  }
}

let turn: Promise<void> | undefined;

/**
 * Resolves in the event loop's next check phase, once for every frame that asked during
 * this turn, so the frames of all sockets that arrived together are answered together: the
 * Redis and Cassandra requests they start then leave in one write to each (ioredis flushes
 * its automatic pipeline at the end of a turn, the Cassandra driver at the end of a tick),
 * not one write and one reply to read per frame. Under load a turn brings many frames, and
 * a frame waits at most the rest of the turn it arrived in.
 */
function nextTurn(): Promise<void> {
  turn ??= new Promise((resolve) => {
    setImmediate(() => {
      turn = undefined;
      resolve();
    });
  });
  return turn;
}

function rawText(data: RawData): string {
  if (Array.isArray(data)) return Buffer.concat(data).toString('utf8');
  return (Buffer.isBuffer(data) ? data : Buffer.from(data)).toString('utf8');
}
