import WebSocket from 'ws';

/** The socket closed before the awaited frame came. */
export class SocketClosedError extends Error {
  constructor(readonly code: number) {
    super(`the socket closed (${code}) before the awaited frame came`);
  }
}

/** A frame as a node sent it, loosely typed: tests assert on its fields. */
export type Frame = Record<string, unknown> & { type: string };

/**
 * A protocol client for tests: connects with a token, keeps every frame it receives,
 * sends frames with a fresh `ref` and waits for the reply that echoes it.
 */
export class ChatClient {
  readonly frames: Frame[] = [];
  hello!: Frame;
  private readonly waiters = new Set<{ match: (frame: Frame) => boolean; resolve: (frame: Frame) => void; reject: (error: Error) => void }>();
  private nextRef = 0;
  closeCode: number | undefined;

  private constructor(readonly socket: WebSocket) {
    socket.on('message', (data: Buffer) => {
      const frame = JSON.parse(data.toString('utf8')) as Frame;
      this.frames.push(frame);
      for (const waiter of this.waiters) {
        if (waiter.match(frame)) {
          this.waiters.delete(waiter);
          waiter.resolve(frame);
        }
      }
    });
    socket.on('close', (code) => {
      this.closeCode = code;
      // Nothing more will come on this socket: waiting out the timeout would only hide that.
      for (const waiter of this.waiters) waiter.reject(new SocketClosedError(code));
      this.waiters.clear();
    });
  }

  /**
   * Opens a socket to `baseUrl` (`ws://host:port`, or `wss://` trusting `ca`, checking the
   * certificate against `servername` when the address is not the name it was issued for) and
   * waits for `hello`.
   */
  static async connect(baseUrl: string, token: string, via: 'header' | 'query' = 'header', ca?: string, servername?: string): Promise<ChatClient> {
    const url = via === 'query' ? `${baseUrl}/ws?token=${encodeURIComponent(token)}` : `${baseUrl}/ws`;
    const socket = new WebSocket(url, {
      ...(via === 'header' ? { headers: { authorization: `Bearer ${token}` } } : {}),
      ...(ca === undefined ? {} : { ca }),
      ...(servername === undefined ? {} : { servername }),
    });
    const client = new ChatClient(socket);
    const hello = client.waitFor((frame) => frame.type === 'hello');
    // A refused upgrade never brings a hello; that failure is reported by the open below.
    hello.catch(() => undefined);
    await new Promise<void>((resolve, reject) => {
      socket.once('open', () => {
        resolve();
      });
      socket.once('error', reject);
      socket.once('unexpected-response', (_request, response) => {
        reject(new Error(`upgrade refused with HTTP ${response.statusCode ?? '?'}`));
      });
    });
    client.hello = await hello;
    return client;
  }

  get user(): string {
    return this.hello.user as string;
  }

  /** Sends a frame with a new ref and resolves with the reply (or error) carrying it. */
  async request(frame: Record<string, unknown>, timeoutMs = 10_000): Promise<Frame> {
    const ref = `r${++this.nextRef}`;
    const reply = this.waitFor((candidate) => candidate.ref === ref, timeoutMs);
    this.socket.send(JSON.stringify({ ...frame, ref }));
    return reply;
  }

  /** Sends raw text, e.g. a malformed frame. */
  sendRaw(text: string | Buffer): void {
    this.socket.send(text);
  }

  /** The first frame, already received or still to come, that matches. */
  waitFor(match: (frame: Frame) => boolean, timeoutMs = 10_000): Promise<Frame> {
    const seen = this.frames.find(match);
    if (seen !== undefined) return Promise.resolve(seen);
    if (this.closeCode !== undefined) return Promise.reject(new SocketClosedError(this.closeCode));
    return new Promise((resolve, reject) => {
      const waiter = {
        match,
        resolve: (frame: Frame) => { clearTimeout(timer); resolve(frame); },
        reject: (error: Error) => { clearTimeout(timer); reject(error); },
      };
      const timer = setTimeout(() => {
        this.waiters.delete(waiter);
        reject(new Error(`no matching frame within ${timeoutMs} ms; received: ${JSON.stringify(this.frames.slice(-5))}`));
      }, timeoutMs);
      this.waiters.add(waiter);
    });
  }

  /** Live `message` frames received so far. */
  messages(): Frame[] {
    return this.frames.filter((frame) => frame.type === 'message');
  }

  /** Resolves with the close code once the node closed the socket. */
  async closed(timeoutMs = 10_000): Promise<number> {
    if (this.socket.readyState === WebSocket.CLOSED) return this.closeCode ?? 0;
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => { reject(new Error('socket did not close')); }, timeoutMs);
      this.socket.once('close', (code: number) => { clearTimeout(timer); resolve(code); });
    });
  }

  close(): void {
    this.socket.close();
  }
}
