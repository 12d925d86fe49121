import type { Envelope, EnvelopeHandler, Inbox, Unsubscribe } from '../bus.js';

/** Every node's inbox in process: a queue each, consumed in order. */
export class MemoryInbox implements Inbox {
  private readonly queues = new Map<string, NodeQueue>();

  publish(node: string, envelope: Envelope): Promise<void> {
    this.queue(node).push(structuredClone(envelope));
    return Promise.resolve();
  }

  consume(node: string, handler: EnvelopeHandler): Promise<Unsubscribe> {
    return Promise.resolve(this.queue(node).consume(handler));
  }

  remove(node: string): Promise<void> {
    this.queues.get(node)?.discardPending();
    return Promise.resolve();
  }

  close(): void {
    for (const queue of this.queues.values()) queue.stop();
  }

  private queue(node: string): NodeQueue {
    let queue = this.queues.get(node);
    if (queue === undefined) {
      queue = new NodeQueue();
      this.queues.set(node, queue);
    }
    return queue;
  }
}

/** One node's queue: entries wait until a consumer takes them, in order, one at a time. */
class NodeQueue {
  private readonly pending: Envelope[] = [];
  private handler: EnvelopeHandler | undefined;
  private draining = false;

  push(envelope: Envelope): void {
    this.pending.push(envelope);
    void this.drain();
  }

  consume(handler: EnvelopeHandler): Unsubscribe {
    this.handler = handler;
    void this.drain();
    return () => {
      if (this.handler === handler) this.handler = undefined;
      return Promise.resolve();
    };
  }

  stop(): void {
    this.handler = undefined;
  }

  /** Drops what waits (as Redis's DEL of a stream); a consumer still gets what comes next. */
  discardPending(): void {
    this.pending.length = 0;
  }

  private async drain(): Promise<void> {
    if (this.draining) return;
    this.draining = true;
    try {
      for (;;) {
        const handler = this.handler;
        const envelope = this.pending[0];
        if (handler === undefined || envelope === undefined) return;
        try {
          await handler(envelope);
        } catch {
          // As with the Redis bus, a failing handler does not stop the inbox; the node reports it.
        }
        // Unless discardPending emptied the queue meanwhile (then the first entry is a newer one).
        if (this.pending[0] === envelope) this.pending.shift();
      }
    } finally {
      this.draining = false;
    }
  }
}
