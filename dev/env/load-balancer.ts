import { connect, createServer, type Server, type Socket } from 'node:net';
import { answersOk } from './probes.js';

/** A backend of the local load balancer: where to connect, and where to ask if it is ready. */
export interface Backend {
  host: string;
  port: number;
  readyUrl: string;
}

interface BackendState extends Backend {
  ready: boolean;
  active: number;
}

/**
 * The least-connections TCP load balancer of the local cluster (what a Service or cloud LB
 * does in Kubernetes): each new connection goes to the ready backend with the fewest open
 * connections. TCP-level, so WebSocket upgrades pass untouched. Readiness is polled every
 * second, so a draining node (readyz 503) stops getting new connections.
 */
export class LoadBalancer {
  private readonly backends: BackendState[];
  private readonly server: Server;
  private readonly timer: NodeJS.Timeout;

  constructor(backends: readonly Backend[]) {
    this.backends = backends.map((backend) => ({ ...backend, ready: true, active: 0 }));
    this.server = createServer((client) => {
      this.route(client);
    });
    this.timer = setInterval(() => {
      void this.checkReadiness();
    }, 1000);
    this.timer.unref();
  }

  /** Chooses the backend for a new connection: ready, then fewest active; undefined when none is ready. */
  static choose<B extends { ready: boolean; active: number }>(backends: readonly B[]): B | undefined {
    let best: B | undefined;
    for (const backend of backends) {
      if (backend.ready && (best === undefined || backend.active < best.active)) best = backend;
    }
    return best;
  }

  async listen(port: number, host = '127.0.0.1'): Promise<number> {
    await this.checkReadiness();
    await new Promise<void>((resolve, reject) => {
      this.server.once('error', reject);
      this.server.listen(port, host, () => {
        resolve();
      });
    });
    const address = this.server.address();
    return typeof address === 'object' && address !== null ? address.port : port;
  }

  close(): void {
    clearInterval(this.timer);
    this.server.close();
  }

  private route(client: Socket): void {
    const backend = LoadBalancer.choose(this.backends);
    if (backend === undefined) {
      client.destroy();
      return;
    }
    backend.active += 1;
    const upstream = connect(backend.port, backend.host);
    let released = false;
    const release = (): void => {
      if (released) return;
      released = true;
      backend.active -= 1;
      client.destroy();
      upstream.destroy();
    };
    client.pipe(upstream).pipe(client);
    for (const socket of [client, upstream]) {
      socket.on('error', release);
      socket.on('close', release);
    }
  }

  private async checkReadiness(): Promise<void> {
    await Promise.all(
      this.backends.map(async (backend) => {
        backend.ready = await answersOk(backend.readyUrl);
      }),
    );
  }
}
