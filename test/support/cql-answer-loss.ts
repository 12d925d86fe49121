import { createConnection, type Server, type Socket } from 'node:net';
import { closeProxy, listenOnLoopback } from './loopback-proxy.js';

/** A native protocol frame's header (v3 and v4): version, flags, stream id (2 bytes), opcode, body length (4 bytes). */
const HEADER_BYTES = 9;

/**
 * A TCP proxy on loopback in front of a real Cassandra that reads the native protocol's
 * frames and can lose the answer to one request, as a network that drops a reply would: the
 * request reaches Cassandra and does its work, and the client hears nothing and times out.
 * The request is picked by bytes it carries (a bound value, such as a message's text). The
 * driver speaks protocol v4 here, whose frames are a header and a body, never compressed
 * unless asked.
 */
export class CqlAnswerLoss {
  private marker: Buffer | undefined;
  private onLost: (() => void) | undefined;
  private readonly sockets = new Set<Socket>();

  private constructor(
    private readonly server: Server,
    readonly port: number,
  ) {}

  /** Listens on a free loopback port and forwards each connection to `host:port`. */
  static async start(host: string, port: number): Promise<CqlAnswerLoss> {
    const listening = await listenOnLoopback();
    const proxy = new CqlAnswerLoss(listening.server, listening.port);
    listening.server.on('connection', (client) => {
      proxy.forward(client, createConnection({ host, port }));
    });
    return proxy;
  }

  /** Loses the answer to the next request that carries `text` (UTF-8); resolves once it has been lost. */
  loseNextAnswerTo(text: string): Promise<void> {
    this.marker = Buffer.from(text, 'utf8');
    return new Promise((resolve) => {
      this.onLost = resolve;
    });
  }

  /** Drops every connection and stops listening. */
  close(): Promise<void> {
    return closeProxy(this.server, this.sockets);
  }

  private forward(client: Socket, upstream: Socket): void {
    // Stream ids of this connection's requests whose answers are to be lost.
    const losing = new Set<number>();
    const requests = frames((frame) => {
      if (this.marker !== undefined && frame.subarray(HEADER_BYTES).includes(this.marker)) {
        losing.add(frame.readInt16BE(2));
        this.marker = undefined;
      }
      upstream.write(frame);
    });
    const answers = frames((frame) => {
      const stream = frame.readInt16BE(2);
      if (!losing.delete(stream)) {
        client.write(frame);
        return;
      }
      this.onLost?.();
      this.onLost = undefined;
    });
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
