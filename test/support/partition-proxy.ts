import { createConnection, type Server, type Socket } from 'node:net';
import { closeProxy, listenOnLoopback } from './loopback-proxy.js';

/**
 * A TCP proxy on loopback in front of a real server, which a test can cut as a network
 * partition would: the connections stay open and every byte is dropped, in both directions,
 * so a client's requests hang rather than fail.
 */
export class PartitionProxy {
  private cutOff = false;
  private readonly sockets = new Set<Socket>();

  private constructor(
    private readonly server: Server,
    readonly port: number,
  ) {}

  /** Listens on a free loopback port and forwards each connection to `host:port`. */
  static async start(host: string, port: number): Promise<PartitionProxy> {
    const listening = await listenOnLoopback();
    const proxy = new PartitionProxy(listening.server, listening.port);
    listening.server.on('connection', (client) => {
      proxy.forward(client, createConnection({ host, port }));
    });
    return proxy;
  }

  /** From now on, nothing gets through either way. */
  cut(): void {
    this.cutOff = true;
  }

  /** Drops every connection and stops listening. */
  close(): Promise<void> {
    return closeProxy(this.server, this.sockets);
  }

  private forward(client: Socket, upstream: Socket): void {
    for (const [from, to] of [[client, upstream], [upstream, client]] as const) {
      this.sockets.add(from);
      from.on('data', (chunk: Buffer) => {
        if (!this.cutOff) to.write(chunk);
      });
      from.on('close', () => {
        this.sockets.delete(from);
        if (!this.cutOff) to.destroy();
      });
      from.on('error', () => undefined);
    }
  }
}
