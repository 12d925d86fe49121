import type { Duplex } from 'node:stream';

/** How many sockets a node opens at once, and how many upgrades may wait (the node's configuration). */
export interface OpeningLimits {
  /** Sockets between their turn and the end of their registration, at most. */
  atOnce: number;
  /** Upgrades waiting for their turn, at most; one more is refused at once. */
  maxWaiting: number;
}

export interface OpeningGateOptions extends OpeningLimits {
  /** An upgrade that waited longer is refused (its client comes back), not opened. */
  maxWaitMs: number;
  /** Once the oldest upgrade has waited this long, the newest are opened first. */
  congestedAfterMs: number;
  clock: () => number;
}

/** Why an upgrade was not opened: too many waiting, waited too long, or its client left while it waited. */
export const SHED_REASONS = ['queue_full', 'waited_too_long', 'client_gone'] as const;
export type ShedReason = (typeof SHED_REASONS)[number];

/** What the gate reports as it works (the node's metrics). */
export interface GateObserver {
  shed: (reason: ShedReason) => void;
  /** Called with the number of upgrades waiting, at least whenever it changes. */
  waiting: (count: number) => void;
}

export interface Opening {
  /** The client's connection, watched while it waits: a client that gives up is dropped for nothing. */
  stream: Duplex;
  /**
   * Upgrades the socket and registers it; settles when the registration ends (`hello` sent,
   * or refused), or when the connection closes before the upgrade.
   */
  open: () => Promise<unknown>;
  /** Answers the client (an HTTP 503 with Retry-After) when it is refused. */
  refuse: () => void;
}

/**
 * Takes the sockets a node is asked to open in turn, a bounded number at once.
 *
 * A reconnect storm brings a lost node's clients all at once. Opened all together, every
 * one of them waits behind all the others' store and bus requests, hellos come late for
 * everyone, clients give up and come again, and the node keeps doing the work of those
 * that left: in the bench, 10,000 clients made 30,000 attempts, and some were still not
 * back after two minutes.
 *
 * Taken in turn, the node works at its own pace, and a client still waiting costs it only
 * its connection. In arrival order while the line moves; once it stands (its oldest has
 * waited `congestedAfterMs`), newest first, so those opened are opened well before their
 * clients give up, instead of each being reached just as it leaves (adaptive LIFO, as in
 * Facebook's queueing of overloaded services). An upgrade that has waited `maxWaitMs` is
 * refused with 503 while its client still listens, and one whose client left is dropped.
 */
export class OpeningGate {
  private openingCount = 0;
  private readonly line = new WaitingLine();
  private sweeper: NodeJS.Timeout | undefined;

  constructor(
    private readonly options: OpeningGateOptions,
    private readonly observer: GateObserver = { shed: () => undefined, waiting: () => undefined },
  ) {}

  /** Upgrades waiting for their turn. */
  get waitingCount(): number {
    return this.line.size;
  }

  /** Opens the socket now if the node has room, queues it otherwise, or refuses it when the queue is full. */
  enter(opening: Opening): void {
    // Its client may have left while its token was checked.
    if (opening.stream.readableEnded || opening.stream.destroyed) {
      opening.stream.destroy();
      this.observer.shed('client_gone');
      return;
    }
    if (this.openingCount < this.options.atOnce && this.line.size === 0) {
      this.run(opening);
      return;
    }
    this.refuseExpired(this.options.clock());
    if (this.line.size >= this.options.maxWaiting) {
      this.shed(opening, 'queue_full');
      return;
    }
    const waiter: Waiter = new Waiter(opening, this.options.clock(), () => {
      if (!this.line.remove(waiter)) return;
      this.observer.shed('client_gone');
      this.lineChanged();
    });
    this.line.push(waiter);
    this.lineChanged();
  }

  private run(opening: Opening): void {
    this.openingCount += 1;
    const done = (): void => {
      this.openingCount -= 1;
      this.admitWaiting();
    };
    // The place is given back whatever happens, a throw from open() included.
    let opened: Promise<unknown>;
    try {
      opened = opening.open();
    } catch (error) {
      opened = Promise.reject(error instanceof Error ? error : new Error(String(error)));
    }
    opened.then(done, done);
  }

  private admitWaiting(): void {
    if (this.line.size === 0) return;
    const now = this.options.clock();
    this.refuseExpired(now);
    while (this.openingCount < this.options.atOnce) {
      const oldest = this.line.oldest;
      if (oldest === undefined) break;
      const waiter = now - oldest.since >= this.options.congestedAfterMs ? this.line.takeNewest() : this.line.takeOldest();
      if (waiter === undefined) break;
      waiter.stopWatching();
      this.run(waiter.opening);
    }
    this.lineChanged();
  }

  /** Refuses, oldest first, the upgrades that have waited too long. */
  private refuseExpired(now: number): void {
    for (let oldest = this.line.oldest; oldest !== undefined && now - oldest.since > this.options.maxWaitMs; oldest = this.line.oldest) {
      this.line.takeOldest();
      oldest.stopWatching();
      this.shed(oldest.opening, 'waited_too_long');
    }
  }

  private shed(opening: Opening, reason: ShedReason): void {
    this.observer.shed(reason);
    opening.refuse();
  }

  /**
   * Reports the line's length, and keeps a timer while anyone waits: with no socket
   * finishing opening (a store that hangs), the expired are still refused in time.
   */
  private lineChanged(): void {
    this.observer.waiting(this.line.size);
    if (this.line.size > 0 && this.sweeper === undefined) {
      this.sweeper = setInterval(() => {
        this.admitWaiting();
      }, SWEEP_MS);
      this.sweeper.unref();
    } else if (this.line.size === 0 && this.sweeper !== undefined) {
      clearInterval(this.sweeper);
      this.sweeper = undefined;
    }
  }
}

const SWEEP_MS = 500;

/**
 * An upgrade waiting for its turn. Its client's end of the connection is watched: a client
 * that gave up (its handshake timed out) sends its FIN while the node has read nothing
 * past the request, so the connection ends and the waiter is dropped then. A client that
 * sent bytes before the 101 (which a WebSocket client does not) and then left is not seen
 * here: it takes its turn, or is refused when it has waited too long.
 */
class Waiter {
  newer: Waiter | undefined;
  older: Waiter | undefined;
  private readonly left: () => void;

  constructor(
    readonly opening: Opening,
    readonly since: number,
    onLeft: () => void,
  ) {
    this.left = () => {
      this.stopWatching();
      opening.stream.destroy();
      onLeft();
    };
    opening.stream.once('end', this.left);
    opening.stream.once('close', this.left);
  }

  stopWatching(): void {
    this.opening.stream.off('end', this.left);
    this.opening.stream.off('close', this.left);
  }
}

/** The waiters, oldest to newest, taken from either end or dropped from the middle in O(1). */
class WaitingLine {
  private first: Waiter | undefined;
  private newest: Waiter | undefined;
  private count = 0;

  get oldest(): Waiter | undefined {
    return this.first;
  }

  get size(): number {
    return this.count;
  }

  push(waiter: Waiter): void {
    waiter.older = this.newest;
    waiter.newer = undefined;
    if (this.newest === undefined) this.first = waiter;
    else this.newest.newer = waiter;
    this.newest = waiter;
    this.count += 1;
  }

  takeOldest(): Waiter | undefined {
    const waiter = this.first;
    if (waiter !== undefined) this.remove(waiter);
    return waiter;
  }

  takeNewest(): Waiter | undefined {
    const waiter = this.newest;
    if (waiter !== undefined) this.remove(waiter);
    return waiter;
  }

  /** False when the waiter was no longer in the line. */
  remove(waiter: Waiter): boolean {
    if (waiter.older === undefined && waiter.newer === undefined && this.first !== waiter) return false;
    if (waiter.older === undefined) this.first = waiter.newer;
    else waiter.older.newer = waiter.newer;
    if (waiter.newer === undefined) this.newest = waiter.older;
    else waiter.newer.older = waiter.older;
    waiter.older = undefined;
    waiter.newer = undefined;
    this.count -= 1;
    return true;
  }
}
