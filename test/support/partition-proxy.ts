import { createConnection, createServer, type Server, type Socket } from 'node:net';

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
    const server = createServer();
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    const address = server.address();
    if (address === null || typeof address === 'string') throw new Error('the proxy has no TCP address');
    const proxy = new PartitionProxy(server, address.port);
    server.on('connection', (client) => {
      proxy.forward(client, createConnection({ host, port }));
    });
    return proxy;
  }

  /** From now on, nothing gets through either way. */
  cut(): void {
    this.cutOff = true;
  }

  /** Drops every connection and stops listening. */
  async close(): Promise<void> {
    for (const socket of this.sockets) socket.destroy();
    await new Promise<void>((resolve) => this.server.close(() => { resolve(); }));
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
