import { randomUUID } from 'node:crypto';
import { WebSocket, type RawData } from 'ws';
import type { Logger } from '../../common/log.js';
import type { Identity } from '../auth/tokens.js';
import type { ChatNode } from '../chat/chat-node.js';
import type { ClientConnection } from '../chat/local-sockets.js';
import { AbuseMeter } from '../chat/rate-limit.js';
import { CLOSE_POLICY_VIOLATION, CLOSE_TOKEN_EXPIRED, CLOSE_TRY_AGAIN_LATER } from '../protocol/close-codes.js';
import { asChatError, ChatError } from '../protocol/errors.js';
import { parseClientFrame, PROTOCOL_VERSION, refOf, type ServerFrame } from '../protocol/frames.js';
import { answerFrame } from './answer-frame.js';

const MAX_TIMER_MS = 2 ** 31 - 1;
/** Frames of one socket waiting to be answered before the node stops reading from it. */
const MAX_PENDING_FRAMES = 64;
/** How long a close asked for by the node (a drain) waits for the frames already received to be answered. */
const ANSWER_BEFORE_CLOSE_MS = 2_000;

export interface SocketLimits {
  /** A socket whose unsent bytes exceed this is a slow consumer and is dropped; its client re-syncs. */
  maxBufferedBytes: number;
  /** Bad frames or rate-limited sends tolerated per `abuseWindowMs` before closing with 1008. */
  abuseLimit: number;
  abuseWindowMs: number;
}

/**
 * Serves one authenticated WebSocket: hello, then frames in order, each answered or
 * failed with an `error` frame (the socket stays open), until it closes.
 */
export async function serveSocket(
  socket: WebSocket,
  identity: Identity,
  node: ChatNode,
  limits: SocketLimits,
  log: Logger,
): Promise<void> {
  const session = randomUUID();
  const connection: ClientConnection = {
    user: identity.user,
    session,
    send(frame: ServerFrame) {
      if (socket.readyState !== WebSocket.OPEN) return;
      if (socket.bufferedAmount > limits.maxBufferedBytes) {
        // A close frame would queue behind the backlog; drop the connection at once instead.
        node.metrics.slowConsumersClosed.inc();
        socket.terminate();
        return;
      }
      socket.send(JSON.stringify(frame));
    },
    close(code, reason) {
      // The frame being answered finishes first (a send in progress gets its ack); those
      // still queued behind it are refused in words, not stored after their socket is gone.
      if (closing) return;
      closing = true;
      const answered = Promise.race([queue, new Promise((resolve) => setTimeout(resolve, ANSWER_BEFORE_CLOSE_MS).unref())]);
      void answered.then(() => {
        socket.close(code, reason);
      });
    },
  };
  let closing = false;

  const abuse = new AbuseMeter(limits.abuseLimit, limits.abuseWindowMs);
  const reportError = (error: ChatError, ref: string | undefined): void => {
    node.metrics.errors.inc({ code: error.code });
    connection.send({ type: 'error', ...(ref === undefined ? {} : { ref }), code: error.code, message: error.message });
    if ((error.code === 'bad_request' || error.code === 'rate_limited') && abuse.offend(Date.now())) {
      socket.close(CLOSE_POLICY_VIOLATION, 'too many bad or rate-limited frames');
    }
  };

  // ws reports protocol violations (an oversized frame, which it closes with 1009) as
  // 'error' events; unhandled, one would take the whole process down.
  socket.on('error', (error) => {
    log.debug({ err: error, user: identity.user }, 'socket error');
  });
  const closed = new Promise<void>((resolve) => {
    socket.once('close', () => {
      resolve();
    });
  });
  const answer = async (data: RawData, isBinary: boolean): Promise<void> => {
    if (closing) {
      reportError(new ChatError('unavailable', 'this node is closing the socket; reconnect and send again'), isBinary ? undefined : refOf(rawText(data)));
      return;
    }
    if (isBinary) {
      reportError(new ChatError('bad_request', 'binary frames are not supported; send JSON text frames'), undefined);
      return;
    }
    const text = rawText(data);
    try {
      const reply = await answerFrame(node, connection, parseClientFrame(text), routeInOrder);
      if (reply !== undefined) connection.send(reply);
    } catch (error) {
      const chatError = asChatError(error);
      if (chatError.code === 'internal') log.error({ err: error, user: identity.user }, 'frame failed');
      reportError(chatError, refOf(text));
    }
  };

  // This socket's messages are routed in the order they were acked, on a chain of their
  // own, so the next frame need not wait for the previous message's routing.
  let routing: Promise<void> = Promise.resolve();
  const routeInOrder = (route: () => Promise<void>): void => {
    routing = routing.then(route);
  };

  // Frames are answered one at a time in arrival order, and only after `hello`. A client
  // that sends faster than its frames are answered is paused (TCP back-pressure) rather
  // than queued without bound.
  const registration = registerSocket();
  let queue: Promise<void> = registration.then(() => undefined);
  let pending = 0;
  socket.on('message', (data: RawData, isBinary: boolean) => {
    pending += 1;
    if (pending === MAX_PENDING_FRAMES) socket.pause();
    queue = queue
      .then(() => answer(data, isBinary))
      .finally(() => {
        pending -= 1;
        if (pending === MAX_PENDING_FRAMES - 1) socket.resume();
      });
  });

  // setTimeout takes at most 2^31-1 ms (24.8 days); a longer token is checked again then.
  let expiry: NodeJS.Timeout | undefined;
  const closeWhenExpired = (): void => {
    const remaining = identity.expiresAt - Date.now();
    expiry = setTimeout(() => {
      if (identity.expiresAt - Date.now() > 0) closeWhenExpired();
      else socket.close(CLOSE_TOKEN_EXPIRED, 'token expired');
    }, Math.min(Math.max(0, remaining), MAX_TIMER_MS));
    expiry.unref();
  };
  closeWhenExpired();

  async function registerSocket(): Promise<boolean> {
    try {
      await node.connect(connection);
    } catch (error) {
      log.warn({ err: error, user: identity.user }, 'could not register a new socket');
      connection.send({ type: 'error', code: 'unavailable', message: 'cannot serve this socket now; reconnect later' });
      socket.close(CLOSE_TRY_AGAIN_LATER, 'unavailable');
      return false;
    }
    connection.send({ type: 'hello', protocol: PROTOCOL_VERSION, node: node.nodeId, user: identity.user, session });
    return true;
  }

  const registered = await registration;
  await closed;
  clearTimeout(expiry);
  await queue;
  await routing;
  if (registered) await node.disconnect(connection);
}

function rawText(data: RawData): string {
  if (Array.isArray(data)) return Buffer.concat(data).toString('utf8');
  return Buffer.from(data instanceof ArrayBuffer ? new Uint8Array(data) : data).toString('utf8');
}
