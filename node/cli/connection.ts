import type { ClientRequest, IncomingMessage } from 'node:http';
import WebSocket from 'ws';
import { closeMeaning } from '../protocol/close-codes.js';

export type Frame = Record<string, unknown> & { type: string };

/** How a socket ended: its close code and reason, and the delay a `drain` frame asked for first. */
export interface Closed {
  code: number;
  reason: string;
  drainAfterMs: number | undefined;
}

/** The node answered the upgrade with an HTTP error instead of a socket (a bad token, a draining node). */
export class RefusedError extends Error {
  constructor(
    readonly status: number,
    detail: string,
  ) {
    super(`the node refused the connection: HTTP ${status}${detail === '' ? '' : ` (${detail})`}`);
  }
}

/** The socket closed before a request's reply came, or before `hello`. */
export class ClosedError extends Error {
  constructor(readonly closed: Closed) {
    super(describeClosed(closed));
  }
}

/** No socket at all: the address does not answer, TLS failed, the handshake or `hello` timed out. */
export class UnreachableError extends Error {}

/** The node answered a request with an `error` frame. */
export class ReplyError extends Error {
  constructor(
    readonly code: string,
    detail: string,
  ) {
    super(`${code}: ${detail}`);
  }
}

export function describeClosed(closed: Closed): string {
  const reason = closed.reason === '' ? '' : `: ${closed.reason}`;
  return `the node closed the connection (${closed.code}, ${closeMeaning(closed.code)}${reason})`;
}

/** Fails with the reply's words when it is an `error` frame. */
export function expectReply(frame: Frame): Frame {
  if (frame.type === 'error') throw new ReplyError(String(frame.code), String(frame.message));
  return frame;
}

/** What a command does with an open socket (a Connection; tests hand in their own). */
export interface Session {
  /** Settles when the socket has closed, with how. */
  readonly closed: Promise<Closed>;
  /** Sends a frame with a fresh ref; resolves with the reply that echoes it, rejects with ClosedError when the socket closes first. */
  request(frame: Record<string, unknown>): Promise<Frame>;
  close(): void;
}

/** The body of a refused upgrade is `{"code","message"}` (PROTOCOL.md); at most this much of it is read. */
const REFUSAL_BODY_LIMIT = 4096;
/** How long the upgrade, and then `hello`, may take before the address counts as not answering. */
const OPENING_TIMEOUT_MS = 10_000;
/** Node's codes for a TLS peer whose certificate does not verify (self-signed, unknown CA, expired, wrong name). */
const CERTIFICATE_ERROR = /CERT|SIGNATURE|ERR_TLS/;
/** A ping this often; a socket whose pong has not come back by the next one is dead (a host gone, a cable cut). */
const KEEPALIVE_MS = 20_000;

/** One socket: connect, wait for hello, then request and reply by ref; every other frame goes to `onPush`, `hello` first. */
export class Connection implements Session {
  private nextRef = 0;
  private readonly pending = new Map<string, { resolve: (frame: Frame) => void; reject: (error: Error) => void }>();
  private drainAfterMs: number | undefined;
  private ended: Closed | undefined;
  readonly closed: Promise<Closed>;

  private constructor(
    private readonly socket: WebSocket,
    onPush: (frame: Frame) => void,
  ) {
    socket.on('message', (data: Buffer) => {
      const frame = parseFrame(data);
      if (frame === undefined) {
        // Not the protocol: nothing on this socket can be trusted to be read right.
        socket.terminate();
        return;
      }
      if (frame.type === 'drain' && typeof frame.reconnectAfterMs === 'number') this.drainAfterMs = frame.reconnectAfterMs;
      const waiter = typeof frame.ref === 'string' ? this.pending.get(frame.ref) : undefined;
      if (waiter !== undefined && typeof frame.ref === 'string') {
        this.pending.delete(frame.ref);
        waiter.resolve(frame);
      } else {
        onPush(frame);
      }
    });
    const keepalive = keepAlive(socket);
    this.closed = new Promise((resolve) => {
      socket.once('close', (code: number, reason: Buffer) => {
        clearInterval(keepalive);
        const closed = { code, reason: reason.toString('utf8'), drainAfterMs: this.drainAfterMs };
        this.ended = closed;
        for (const waiter of this.pending.values()) waiter.reject(new ClosedError(closed));
        this.pending.clear();
        resolve(closed);
      });
    });
    // A socket error is followed by 'close', which settles everything; without a listener it would throw.
    socket.on('error', () => undefined);
  }

  static open(url: string, token: string, ca: string | undefined, onPush: (frame: Frame) => void): Promise<{ connection: Connection; hello: Frame }> {
    const address = `${url.replace(/\/$/, '')}/ws`;
    const socket = new WebSocket(address, {
      headers: { authorization: `Bearer ${token}` },
      handshakeTimeout: OPENING_TIMEOUT_MS,
      ...(ca === undefined ? {} : { ca }),
    });
    return new Promise((resolve, reject) => {
      // Once refused, the errors and close that aborting the upgrade brings say nothing new.
      let refused = false;
      const helloTimer = setTimeout(() => {
        reject(new UnreachableError(`no hello from ${address} within ${OPENING_TIMEOUT_MS / 1000} s`));
        socket.terminate();
      }, OPENING_TIMEOUT_MS);
      const fail = (error: Error): void => {
        clearTimeout(helloTimer);
        reject(error);
      };
      socket.once('unexpected-response', (request: ClientRequest, response: IncomingMessage) => {
        refused = true;
        void refusalDetail(response).then((detail) => {
          fail(new RefusedError(response.statusCode ?? 0, detail));
          request.destroy();
        });
      });
      socket.once('error', (error: NodeJS.ErrnoException) => {
        if (refused) return;
        // A certificate refused now is refused on every try: that is no passing outage.
        if (CERTIFICATE_ERROR.test(error.code ?? '')) fail(new Error(`the node's certificate is not trusted (${error.code ?? ''}: ${error.message}); --ca names the CA that signed it`));
        else fail(new UnreachableError(`cannot reach ${address}: ${error.message}`));
      });
      socket.once('close', (code: number, reason: Buffer) => {
        if (!refused) fail(new ClosedError({ code, reason: reason.toString('utf8'), drainAfterMs: undefined }));
      });
      socket.once('message', (data: Buffer) => {
        const hello = parseFrame(data);
        if (hello?.type !== 'hello') {
          fail(new UnreachableError(`${address} is not a chat node: its first frame was not hello`));
          socket.terminate();
          return;
        }
        clearTimeout(helloTimer);
        // Before the connection listens: frames that came in the same read as hello follow it.
        onPush(hello);
        resolve({ connection: new Connection(socket, onPush), hello });
      });
    });
  }

  request(frame: Record<string, unknown>): Promise<Frame> {
    if (this.ended !== undefined) return Promise.reject(new ClosedError(this.ended));
    const ref = `cli-${++this.nextRef}`;
    return new Promise((resolve, reject) => {
      this.pending.set(ref, { resolve, reject });
      this.socket.send(JSON.stringify({ ...frame, ref }));
    });
  }

  close(): void {
    this.socket.close();
  }
}

/** A frame as the protocol has it (a JSON object with a string `type`), or undefined. */
function parseFrame(data: Buffer): Frame | undefined {
  try {
    const value = JSON.parse(data.toString('utf8')) as unknown;
    return typeof value === 'object' && value !== null && typeof (value as { type?: unknown }).type === 'string' ? (value as Frame) : undefined;
  } catch {
    return undefined;
  }
}

/** Pings the node every KEEPALIVE_MS and ends the socket when the last ping went unanswered; returns the timer. */
function keepAlive(socket: WebSocket): NodeJS.Timeout {
  let answered = true;
  socket.on('pong', () => {
    answered = true;
  });
  const timer = setInterval(() => {
    if (!answered) {
      socket.terminate();
      return;
    }
    answered = false;
    socket.ping();
  }, KEEPALIVE_MS);
  timer.unref();
  return timer;
}

/** The refusal's `code: message` when its body is the protocol's JSON, else its first line of text. */
async function refusalDetail(response: IncomingMessage): Promise<string> {
  let body = '';
  try {
    for await (const chunk of response) {
      body += (chunk as Buffer).toString('utf8');
      if (body.length >= REFUSAL_BODY_LIMIT) break;
    }
  } catch {
    // A refusal cut short still has its status, which is what matters.
  }
  try {
    const parsed = JSON.parse(body) as { code?: unknown; message?: unknown };
    if (typeof parsed.code === 'string' && typeof parsed.message === 'string') return `${parsed.code}: ${parsed.message}`;
  } catch {
    // Not the protocol's JSON: a proxy's page, say.
  }
  return body.split('\n')[0]?.trim().slice(0, 200) ?? '';
}
