import { publish, type RedisClient } from './connection.js';
import type { SignalHandler, Signals, Signal, Unsubscribe } from '../bus.js';
import type { ChannelSubscriptions, MessageListener } from './channels.js';
import { parseSignal } from './codec.js';
import type { BusKeys } from './keys.js';
import { reach } from './replies.js';

/** Signals on pub/sub: one channel per node. */
export class RedisSignals implements Signals {
  constructor(
    private readonly redis: RedisClient,
    private readonly subscriptions: ChannelSubscriptions,
    private readonly keys: BusKeys,
  ) {}

  /** Sends a typing signal to a node (at most once). */
  async send(node: string, signal: Signal): Promise<void> {
    await reach('send a signal', () => publish(this.redis, this.keys.signalChannel(node), JSON.stringify(signal)));
  }

  /** Receives the signals sent to `node` from the moment this resolves. */
  async subscribe(node: string, handler: SignalHandler): Promise<Unsubscribe> {
    const channel = this.keys.signalChannel(node);
    const listener: MessageListener = (message) => {
      handler(parseSignal(message));
    };
    await this.subscriptions.add([channel], listener);
    return () => this.subscriptions.remove([channel], listener);
  }
}
