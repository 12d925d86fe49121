import { performance } from 'node:perf_hooks';
import WebSocket, { type RawData } from 'ws';

/** A frame as a server sent it, loosely typed: the load generator reads a few fields. */
export type Frame = Record<string, unknown> & { type: string };

/** Takes a frame, stamped with the generator's monotonic clock when it arrived. */
export type FrameHandler = (frame: Frame, receivedAt: number) => void;

/** Why an open failed: refused (an HTTP answer instead of 101), no upgrade or no `hello` in time, closed before `hello`, or a socket error. */
export type OpenFailureKind = 'refused' | 'no-upgrade' | 'no-hello' | 'closed' | 'error';

/** An open that failed, and why; `status` is the HTTP status of a refusal. */
export class OpenFailure extends Error {
  constructor(
    message: string,
    readonly kind: OpenFailureKind,
    readonly status?: number,
  ) {
    super(message);
    this.name = 'OpenFailure';
  }
}

/**
 * What a scenario drives: one user's authenticated connection, speaking the chat protocol's
 * frames. A peer's client (Socket.IO, Centrifugo) is wrapped to look like this: it turns a
 * `send` frame into its own call and its replies and deliveries into `ack`, `error` and
 * `message` frames, so the same generator and ledger measure every target.
 */
export interface LoadSocket {
  /** Called with every frame after the connection is up, stamped with the generator's monotonic clock; scenarios replace it. */
  onFrame: FrameHandler;
  readonly isOpen: boolean;
  send(frame: Record<string, unknown>): void;
  /** Closes and resolves once closed (or after `timeoutMs`, dropping it). */
  close(timeoutMs?: number): Promise<void>;
}

/**
 * A lean protocol client for load: unlike the tests' ChatClient it keeps no frame history
 * and hands every frame after `hello` to one replaceable handler, stamped on arrival with
 * the generator's monotonic clock (the same clock that stamps sends).
 */
export class BenchSocket implements LoadSocket {
  /** Called with every frame after `hello`; scenarios replace it. */
  onFrame: FrameHandler = () => undefined;
  /** Called once when an open socket closes (after `hello`), stamped with the generator's clock. */
  onClose: (code: number, closedAt: number) => void = () => undefined;
  closeCode: number | undefined;
  private hello: Frame | undefined;

  private constructor(
    private readonly socket: WebSocket,
    /** How the open went, ms after it began: TCP connected, upgrade answered (101), `hello` received. */
    readonly opening: { connectedMs?: number; upgradedMs?: number; helloMs?: number },
  ) {}

  /** Opens `url` with `headers` (a wss:// one trusting `ca`) and resolves once the server's `hello` arrived. */
  static open(url: string, headers: Record<string, string>, timeoutMs = 10_000, ca?: string): Promise<BenchSocket> {
    const startedAt = performance.now();
    const since = (): number => performance.now() - startedAt;
    const opening: BenchSocket['opening'] = {};
    const socket = new WebSocket(url, {
      headers,
      perMessageDeflate: false,
      handshakeTimeout: timeoutMs,
      ...(ca === undefined ? {} : { ca }),
      // The upgrade request, before it is sent: its socket tells when TCP is up.
      finishRequest: (request) => {
        request.once('socket', (tcp) => {
          tcp.once('connect', () => {
            opening.connectedMs = since();
          });
        });
        request.end();
      },
    });
    const client = new BenchSocket(socket, opening);
    return new Promise((resolve, reject) => {
      const fail = (error: Error): void => {
        clearTimeout(timer);
        socket.terminate();
        reject(error);
      };
      socket.once('upgrade', () => {
        opening.upgradedMs = since();
      });
      const timer = setTimeout(() => {
        const { upgradedMs } = opening;
        const upgraded = upgradedMs === undefined ? 'not upgraded' : `upgraded after ${Math.round(upgradedMs)} ms`;
        fail(new OpenFailure(`no hello from ${url} within ${timeoutMs} ms (${upgraded})`, upgradedMs === undefined ? 'no-upgrade' : 'no-hello'));
      }, timeoutMs);
      socket.on('message', (data: RawData) => {
        const receivedAt = performance.now();
        const frame = parseFrame(data);
        if (client.hello !== undefined) {
          client.onFrame(frame, receivedAt);
          return;
        }
        if (frame.type !== 'hello') {
          fail(new OpenFailure(`expected hello, got ${JSON.stringify(frame).slice(0, 200)}`, 'error'));
          return;
        }
        clearTimeout(timer);
        opening.helloMs = since();
        client.hello = frame;
        resolve(client);
      });
      socket.on('close', (code: number) => {
        client.closeCode = code;
        if (client.hello === undefined) fail(new OpenFailure(`socket closed with ${code} before hello`, 'closed'));
        else client.onClose(code, performance.now());
      });
      socket.on('error', (error: Error) => {
        if (client.hello === undefined) fail(new OpenFailure(error.message, 'error'));
      });
      socket.on('unexpected-response', (_request, response) => {
        fail(new OpenFailure(`upgrade refused with HTTP ${response.statusCode ?? '?'}`, 'refused', response.statusCode));
      });
    });
  }

  get isOpen(): boolean {
    return this.socket.readyState === WebSocket.OPEN;
  }

  send(frame: Record<string, unknown>): void {
    this.socket.send(JSON.stringify(frame));
  }

  /** Closes the socket and resolves once it is closed (or after `timeoutMs`, terminating it). */
  close(timeoutMs = 5_000): Promise<void> {
    if (this.socket.readyState === WebSocket.CLOSED) return Promise.resolve();
    return new Promise((resolve) => {
      const timer = setTimeout(() => {
        this.socket.terminate();
        resolve();
      }, timeoutMs);
      this.socket.once('close', () => {
        clearTimeout(timer);
        resolve();
      });
      this.socket.close();
    });
  }
}

function parseFrame(data: RawData): Frame {
  const text = Array.isArray(data) ? Buffer.concat(data).toString('utf8') : Buffer.from(data as Buffer).toString('utf8');
  const value: unknown = JSON.parse(text);
  if (typeof value === 'object' && value !== null && typeof (value as { type?: unknown }).type === 'string') return value as Frame;
  return { type: 'unparsed', text };
}

/** What opening many sockets gave: the sockets that opened, and why the others did not. */
export interface OpenedSockets<Socket extends LoadSocket = LoadSocket> {
  sockets: Socket[];
  failures: string[];
  elapsedMs: number;
}

/**
 * Runs `open` for `count` indexes with at most `concurrency` in flight. Gives up opening
 * more after `maxFailures` failures (the sockets already open stay open, for the caller to close).
 */
export async function openMany<Socket extends LoadSocket>(
  count: number,
  concurrency: number,
  open: (index: number) => Promise<Socket>,
  maxFailures = 0,
): Promise<OpenedSockets<Socket>> {
  const started = performance.now();
  const opened: (Socket | undefined)[] = new Array<Socket | undefined>(count).fill(undefined);
  const failures: string[] = [];
  let next = 0;
  const worker = async (): Promise<void> => {
    while (next < count && failures.length <= maxFailures) {
      const index = next++;
      try {
        opened[index] = await open(index);
      } catch (error) {
        failures.push(error instanceof Error ? error.message : String(error));
      }
    }
  };
  await Promise.all(Array.from({ length: Math.min(concurrency, count) }, worker));
  const sockets = opened.filter((socket): socket is Socket => socket !== undefined);
  return { sockets, failures, elapsedMs: performance.now() - started };
}

/** Closes every socket, at most `concurrency` closes in flight. */
export async function closeAll(sockets: readonly LoadSocket[], concurrency = 200): Promise<void> {
  for (let index = 0; index < sockets.length; index += concurrency) {
    await Promise.all(sockets.slice(index, index + concurrency).map((socket) => socket.close()));
  }
}
