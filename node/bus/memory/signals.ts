import type { Signal, SignalHandler, Signals, Unsubscribe } from '../bus.js';

/** Signals in process: handed to the node's handlers at once. */
export class MemorySignals implements Signals {
  private readonly handlers = new Map<string, Set<SignalHandler>>();

  send(node: string, signal: Signal): Promise<void> {
    for (const handler of this.handlers.get(node) ?? []) handler(structuredClone(signal));
    return Promise.resolve();
  }

  subscribe(node: string, handler: SignalHandler): Promise<Unsubscribe> {
    const handlers = this.handlers.get(node) ?? new Set();
    this.handlers.set(node, handlers);
    handlers.add(handler);
    return Promise.resolve(() => {
      handlers.delete(handler);
      return Promise.resolve();
    });
  }
}
