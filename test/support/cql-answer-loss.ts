import { createConnection, type Server, type Socket } from 'node:net';
import { closeProxy, listenOnLoopback } from './loopback-proxy.js';

/** A native protocol frame's header (v3 and v4): version, flags, stream id (2 bytes), opcode, body length (4 bytes). */
const HEADER_BYTES = 9;

/** Answers being lost to requests that carry a marker, until ended. */
export interface AnswerLoss {
  /** Resolves once the first answer has been lost. */
  firstLost: Promise<void>;
  /** How many answers were lost so far. */
  readonly lost: number;
  /** Stops losing the answers of requests sent from now on. */
  end(): void;
}

/** One loss as the proxy keeps it: what marks a request, and what it lost. */
interface Losing {
  marker: Buffer;
  lost: number;
  onFirstLost: () => void;
}

/**
 * A TCP proxy on loopback in front of a real Cassandra that reads the native protocol's
 * frames. It can lose the answers to chosen requests, as a reply path that breaks would: each
 * request reaches Cassandra and does its work, and the client hears nothing and times out.
 * Requests are picked by bytes they carry (a bound value, such as a message's text), every
 * one of them until the loss ends: the driver retries an idempotent request that timed out
 * on the next host of its plan, so a test counts the answers lost to see how often it was
 * tried (once, with one node; node/store/cassandra/current-hosts.ts says why not twice). It
 * can also refuse every connection for a while, as a Cassandra that is down would. The driver
 * speaks protocol v4 here, whose frames are a header and a body, never compressed unless asked.
 */
export class CqlAnswerLoss {
  private loss: Losing | undefined;
  private refusing = false;
  private readonly sockets = new Set<Socket>();
  private readonly clients = new Set<Socket>();

  private constructor(
    private readonly server: Server,
    readonly port: number,
  ) {}

  /** Listens on a free loopback port and forwards each connection to `contactPoint` (`host:port`, or `host` on 9042). */
  static async start(contactPoint: string): Promise<CqlAnswerLoss> {
    const [host = '127.0.0.1', port = '9042'] = contactPoint.split(':');
    const listening = await listenOnLoopback();
    const proxy = new CqlAnswerLoss(listening.server, listening.port);
    listening.server.on('connection', (client) => {
      if (proxy.refusing) client.destroy();
      else proxy.forward(client, createConnection({ host, port: Number(port) }));
    });
    return proxy;
  }

  /** Loses the answer to every request that carries `text` (UTF-8) from now until the loss is ended. */
  loseAnswersTo(text: string): AnswerLoss {
    if (this.loss !== undefined) throw new Error('answers are already being lost');
    let onFirstLost = (): void => undefined;
    const firstLost = new Promise<void>((resolve) => {
      onFirstLost = resolve;
    });
    const loss: Losing = { marker: Buffer.from(text, 'utf8'), lost: 0, onFirstLost };
    this.loss = loss;
    return {
      firstLost,
      get lost() {
        return loss.lost;
      },
      end: () => {
        if (this.loss === loss) this.loss = undefined;
      },
    };
  }

  /** How many of the client's connections are open through the proxy now. */
  get connections(): number {
    return this.clients.size;
  }

  /** Drops every connection and closes each new one at once, as a server that is down would, until `accept`. */
  refuse(): void {
    this.refusing = true;
    for (const socket of this.sockets) socket.destroy();
  }

  /** Forwards new connections again. */
  accept(): void {
    this.refusing = false;
  }

  /** Drops every connection and stops listening. */
  close(): Promise<void> {
    return closeProxy(this.server, this.sockets);
  }

  private forward(client: Socket, upstream: Socket): void {
    // Stream ids of this connection's requests whose answers are to be lost, and the loss each counts in.
    const losing = new Map<number, Losing>();
    const requests = frames((frame) => {
      const { loss } = this;
      if (loss !== undefined && frame.subarray(HEADER_BYTES).includes(loss.marker)) losing.set(frame.readInt16BE(2), loss);
      upstream.write(frame);
    });
    const answers = frames((frame) => {
      const stream = frame.readInt16BE(2);
      const loss = losing.get(stream);
      if (loss === undefined) {
        client.write(frame);
        return;
      }
      losing.delete(stream);
      loss.lost += 1;
      loss.onFirstLost();
    });
    this.clients.add(client);
    client.on('close', () => this.clients.delete(client));
    client.on('data', requests);
    upstream.on('data', answers);
    for (const [socket, other] of [[client, upstream], [upstream, client]] as const) {
      this.sockets.add(socket);
      socket.on('close', () => {
        this.sockets.delete(socket);
        other.destroy();
      });
      socket.on('error', () => undefined);
    }
  }
}

/** Cuts a byte stream into whole frames, each handed to `onFrame` as it completes. */
function frames(onFrame: (frame: Buffer) => void): (chunk: Buffer) => void {
  let pending: Buffer = Buffer.alloc(0);
  return (chunk) => {
    pending = pending.length === 0 ? chunk : Buffer.concat([pending, chunk]);
    while (pending.length >= HEADER_BYTES) {
      const size = HEADER_BYTES + pending.readInt32BE(5);
      if (pending.length < size) break;
      onFrame(pending.subarray(0, size));
      pending = pending.subarray(size);
    }
  };
}
