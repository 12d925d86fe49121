import { setTimeout as sleep } from 'node:timers/promises';
import type { Logger } from '../../common/log.js';
import { isUnavailable } from '../protocol/errors.js';

/** One message whose store write failed in a way that may still have landed. */
export interface UnsettledAppend {
  id: string;
  /** Writes the message again; idempotent (the same id, the same rows). */
  append: () => Promise<void>;
  /** Keeps what waits on the outcome waiting (the sender's pending `idem`); called at once and every 20 s. */
  hold: () => Promise<void>;
  /** The message is stored: answer and route it. */
  stored: () => Promise<void>;
  /** A write failed for a reason no retry mends: the message is given up. */
  abandoned: (error: unknown) => void;
}

export interface UnsettledAppendsOptions {
  log: Logger;
  /** How many messages may wait here at most; past it a failed send is simply refused as before. */
  capacity?: number;
  /** The wait before attempt `n` (1, 2, …). */
  delayMs?: (attempt: number) => number;
  /** Told how many messages wait, each time it changes (a gauge). */
  waiting?: (count: number) => void;
}

/** Enough for the sends of a few seconds' outage at the rates one node takes; each holds its text. */
const DEFAULT_CAPACITY = 1_000;
const FIRST_DELAY_MS = 250;
/** Well inside the 60 s a pending `idem` lasts, whatever one attempt takes. */
const HOLD_EVERY_MS = 20_000;
const MAX_DELAY_MS = 5_000;

/**
 * Calls `hold` every 20 s until the returned function is called: a pending `idem` lasts 60 s,
 * and a send's writes may take longer (the driver can try several hosts, each with its own
 * timeout) than one claim lasts.
 */
export function keepHolding(hold: () => Promise<void>): () => void {
  const timer = setInterval(() => {
    hold().catch(() => undefined);
  }, HOLD_EVERY_MS);
  timer.unref();
  return () => {
    clearInterval(timer);
  };
}

/** Doubling from 250 ms up to 5 s, each drawn between half and all of it, so a recovered store is not hit all at once. */
function backoff(attempt: number): number {
  const ceiling = Math.min(MAX_DELAY_MS, FIRST_DELAY_MS * 2 ** (attempt - 1));
  return ceiling * (0.5 + Math.random() / 2);
}

/**
 * Sends whose store write failed with `unavailable` (a timeout among them) while the sender
 * gave an `idem`: the write may have landed all the same, so the message is neither
 * forgotten nor stored again under a new id when the client retries. It stays in flight on
 * the node that took it (holding the cursors below it, since it may yet become visible) and
 * is written again here, under its own id, until the store answers; then its `idem` gets the
 * ack a retry is answered with, and it is routed. Should this node stop first, its in-flight
 * record lets a survivor settle it the same way (finishUnsettledMessages).
 */
export class UnsettledAppends {
  private readonly waiting = new Set<string>();
  private readonly stopping = new AbortController();
  private readonly capacity: number;
  private readonly delayMs: (attempt: number) => number;

  constructor(private readonly options: UnsettledAppendsOptions) {
    this.capacity = options.capacity ?? DEFAULT_CAPACITY;
    this.delayMs = options.delayMs ?? backoff;
  }

  /** Takes a message on; false when full (or stopped), and the caller refuses it as before. */
  keep(append: UnsettledAppend): boolean {
    if (this.stopping.signal.aborted) return false;
    if (this.waiting.size >= this.capacity) {
      this.options.log.warn({ id: append.id, waiting: this.waiting.size }, 'cannot keep retrying a failed store write: too many wait already');
      return false;
    }
    this.waiting.add(append.id);
    this.options.waiting?.(this.waiting.size);
    append.hold().catch(() => undefined);
    const stopHolding = keepHolding(append.hold);
    void this.settle(append).finally(() => {
      stopHolding();
      this.waiting.delete(append.id);
      this.options.waiting?.(this.waiting.size);
    });
    return true;
  }

  get size(): number {
    return this.waiting.size;
  }

  /** Stops retrying. What was not settled stays in flight, recorded for a survivor, who writes it again. */
  stop(): void {
    this.stopping.abort();
  }

  private async settle(append: UnsettledAppend): Promise<void> {
    const { log } = this.options;
    for (let attempt = 1; ; attempt += 1) {
      try {
        await sleep(this.delayMs(attempt), undefined, { signal: this.stopping.signal });
      } catch {
        return;
      }
      try {
        await append.append();
      } catch (error) {
        // Stopped meanwhile: whatever the failure, the outcome is the survivor's to settle.
        if (this.stopping.signal.aborted) return;
        if (isUnavailable(error)) continue;
        log.error({ err: error, id: append.id }, 'gave up a message whose store write failed');
        append.abandoned(error);
        return;
      }
      log.info({ id: append.id, attempts: attempt + 1 }, 'stored a message whose first store write had failed');
      await append.stored().catch((error: unknown) => {
        log.error({ err: error, id: append.id }, 'could not route a message stored on a retry');
      });
      return;
    }
  }
}
