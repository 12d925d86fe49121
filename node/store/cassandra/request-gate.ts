/**
 * Lets at most `limit` requests be in flight at once and queues the rest, first come first
 * served. The driver has no queue of its own: past its per-connection limit it fails a
 * request outright (BusyConnectionError), and above that limit it hands Cassandra all it
 * gets. A reconnect storm of 10,000 sockets, each writing and deleting session rows, then
 * put tens of thousands of requests on one Cassandra at once: they timed out after 12 s
 * (and were retried) while its threads took the CPU the bus and the nodes share with it on
 * a small machine. Queued here instead, they wait their turn and each one that is sent is
 * answered within Cassandra's own time.
 */
export class RequestGate {
  private inFlight = 0;
  private readonly waiting: (() => void)[] = [];
  private next = 0;

  constructor(private readonly limit: number) {
    if (!(limit >= 1)) throw new RangeError('a request gate needs a limit of at least 1');
  }

  /** Requests sent and not yet answered. */
  get active(): number {
    return this.inFlight;
  }

  /** Requests waiting for a turn. */
  get queued(): number {
    return this.waiting.length - this.next;
  }

  /** Runs `request` once fewer than `limit` are in flight; settles as it does. */
  async run<T>(request: () => Promise<T>): Promise<T> {
    if (this.inFlight >= this.limit) await new Promise<void>((resolve) => this.waiting.push(resolve));
    else this.inFlight += 1;
    try {
      return await request();
    } finally {
      this.release();
    }
  }

  /** Hands the finished request's turn to the oldest waiting one, or frees it. */
  private release(): void {
    const wake = this.waiting[this.next];
    if (wake === undefined) {
      this.inFlight -= 1;
      this.waiting.length = 0;
      this.next = 0;
      return;
    }
    this.next += 1;
    // Compacted now and then, not on every turn: shift() on a long queue copies it each time.
    if (this.next >= 1_024 && this.next * 2 >= this.waiting.length) {
      this.waiting.splice(0, this.next);
      this.next = 0;
    }
    wake();
  }
}
