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

/** The socket closed before a request's reply came. */
export class ClosedError extends Error {
  constructor(readonly closed: Closed) {
    super(describeClosed(closed));
  }
}

export function describeClosed(closed: Closed): string {
  const reason = closed.reason === '' ? '' : `: ${closed.reason}`;
  return `the node closed the connection (${closed.code}, ${closeMeaning(closed.code)}${reason})`;
}

/** The body of a refused upgrade is `{"code","message"}` (PROTOCOL.md); at most this much of it is read. */
const REFUSAL_BODY_LIMIT = 4096;

/** One socket: connect, wait for hello, then request and reply by ref; pushed frames go to `onPush`. */
export class Connection {
  private nextRef = 0;
  private readonly pending = new Map<string, { resolve: (frame: Frame) => void; reject: (error: Error) => void }>();
  private drainAfterMs: number | undefined;
  private ended: Closed | undefined;
  /** Settles when the socket has closed, with how. */
  readonly closed: Promise<Closed>;

  private constructor(
    private readonly socket: WebSocket,
    onPush: (frame: Frame) => void,
  ) {
    socket.on('message', (data: Buffer) => {
      const frame = JSON.parse(data.toString('utf8')) as Frame;
      if (frame.type === 'drain' && typeof frame.reconnectAfterMs === 'number') this.drainAfterMs = frame.reconnectAfterMs;
      const waiter = typeof frame.ref === 'string' ? this.pending.get(frame.ref) : undefined;
      if (waiter !== undefined && typeof frame.ref === 'string') {
        this.pending.delete(frame.ref);
        waiter.resolve(frame);
      } else {
        onPush(frame);
      }
    });
    this.closed = new Promise((resolve) => {
      socket.once('close', (code: number, reason: Buffer) => {
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
    const socket = new WebSocket(address, { headers: { authorization: `Bearer ${token}` }, ...(ca === undefined ? {} : { ca }) });
    return new Promise((resolve, reject) => {
      // Once refused, the errors and close that aborting the upgrade brings say nothing new.
      let refused = false;
      socket.once('unexpected-response', (request: ClientRequest, response: IncomingMessage) => {
        refused = true;
        void refusalDetail(response).then((detail) => {
          reject(new RefusedError(response.statusCode ?? 0, detail));
          request.destroy();
        });
      });
      socket.once('error', (error) => {
        if (!refused) reject(new Error(`cannot reach ${address}: ${error.message}`));
      });
      socket.once('close', (code: number, reason: Buffer) => {
        if (!refused) reject(new ClosedError({ code, reason: reason.toString('utf8'), drainAfterMs: undefined }));
      });
      socket.once('message', (data: Buffer) => {
        const hello = JSON.parse(data.toString('utf8')) as Frame;
        if (hello.type !== 'hello') reject(new Error(`expected hello, got ${JSON.stringify(hello)}`));
        else resolve({ connection: new Connection(socket, onPush), hello });
      });
    });
  }

  /** Sends a frame with a fresh ref; resolves with the reply that echoes it, rejects with ClosedError when the socket closes first. */
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
