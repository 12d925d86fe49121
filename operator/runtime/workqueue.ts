/**
 * A work queue of keys (namespace/name) in the manner of client-go's: a key waits in the
 * queue at most once however often it is added; a key is handled by one worker at a time
 * (added again while in hand, it is handled once more afterwards); failures come back
 * after an exponential back-off with jitter; at most `concurrency` keys are in hand.
 */
export interface WorkQueueOptions {
  concurrency: number;
  baseDelayMs?: number;
  maxDelayMs?: number;
  /** Called with the queue depth (waiting keys) whenever it changes, for metrics. */
  onDepth?: (depth: number) => void;
  random?: () => number;
}

export type Handler = (key: string) => Promise<void>;

export class WorkQueue {
  private readonly waiting: string[] = [];
  private readonly queued = new Set<string>();
  private readonly inHand = new Set<string>();
  private readonly dirty = new Set<string>();
  private readonly failures = new Map<string, number>();
  private readonly timers = new Map<string, NodeJS.Timeout>();
  private running = 0;
  private stopped = false;
  private idleWaiters: (() => void)[] = [];

  constructor(
    private readonly handler: Handler,
    private readonly options: WorkQueueOptions,
  ) {}

  /** Queues `key` now (a pending delayed add of it is superseded). */
  add(key: string): void {
    if (this.stopped) return;
    this.clearTimer(key);
    if (this.inHand.has(key)) {
      this.dirty.add(key);
      return;
    }
    if (this.queued.has(key)) return;
    this.queued.add(key);
    this.waiting.push(key);
    this.reportDepth();
    this.pump();
  }

  /** Queues `key` after `delayMs`, unless it is added sooner. */
  addAfter(key: string, delayMs: number): void {
    if (this.stopped || this.timers.has(key)) return;
    const timer = setTimeout(() => {
      this.timers.delete(key);
      this.add(key);
    }, delayMs);
    timer.unref();
    this.timers.set(key, timer);
  }

  /** The back-off before retrying a key that failed `failures` times in a row: base·2ⁿ, capped, with ±20 % jitter. */
  static backoffMs(failures: number, baseMs: number, maxMs: number, random: () => number): number {
    const exponential = Math.min(maxMs, baseMs * 2 ** Math.max(0, failures - 1));
    return Math.round(exponential * (0.8 + 0.4 * random()));
  }

  get depth(): number {
    return this.waiting.length;
  }

  /** Resolves when nothing is waiting or in hand (tests, shutdown). */
  idle(): Promise<void> {
    if (this.waiting.length === 0 && this.running === 0) return Promise.resolve();
    return new Promise((resolve) => this.idleWaiters.push(resolve));
  }

  /** Stops taking keys; resolves when the keys in hand are done. */
  async stop(): Promise<void> {
    this.stopped = true;
    for (const timer of this.timers.values()) clearTimeout(timer);
    this.timers.clear();
    this.waiting.length = 0;
    this.queued.clear();
    await this.idle();
  }

  private pump(): void {
    while (!this.stopped && this.running < this.options.concurrency) {
      const key = this.waiting.shift();
      if (key === undefined) break;
      this.queued.delete(key);
      this.reportDepth();
      this.inHand.add(key);
      this.running += 1;
      void this.work(key);
    }
    if (this.waiting.length === 0 && this.running === 0) {
      for (const resolve of this.idleWaiters.splice(0)) resolve();
    }
  }

  private async work(key: string): Promise<void> {
    try {
      await this.handler(key);
      this.failures.delete(key);
    } catch {
      const failures = (this.failures.get(key) ?? 0) + 1;
      this.failures.set(key, failures);
      const delay = WorkQueue.backoffMs(failures, this.options.baseDelayMs ?? 500, this.options.maxDelayMs ?? 60_000, this.options.random ?? Math.random);
      this.addAfter(key, delay);
    } finally {
      this.inHand.delete(key);
      this.running -= 1;
      if (this.dirty.delete(key)) this.add(key);
      this.pump();
    }
  }

  private clearTimer(key: string): void {
    const timer = this.timers.get(key);
    if (timer === undefined) return;
    clearTimeout(timer);
    this.timers.delete(key);
  }

  private reportDepth(): void {
    this.options.onDepth?.(this.waiting.length);
  }
}
