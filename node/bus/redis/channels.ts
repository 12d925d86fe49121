import type { RedisClient } from './connection.js';
import { reach } from './replies.js';

export type MessageListener = (message: string) => void;

/**
 * The pub/sub channels listened to on the subscriber connection, shared by every
 * listener of this bus: a channel is subscribed while it has at least one listener.
 */
export class ChannelSubscriptions {
  private readonly listeners = new Map<string, Set<MessageListener>>();

  constructor(
    private readonly connection: RedisClient,
    private readonly report: (error: unknown) => void,
  ) {
    connection.on('message', (channel: string, message: string) => {
      for (const listener of this.listeners.get(channel) ?? []) {
        try {
          listener(message);
        } catch (error) {
          // A throwing handler must not break the delivery to the other listeners.
          this.report(error);
        }
      }
    });
  }

  /** Adds `listener` to each channel, subscribing those that had none. */
  async add(channels: readonly string[], listener: MessageListener): Promise<void> {
    const fresh: string[] = [];
    for (const channel of channels) {
      let listeners = this.listeners.get(channel);
      if (listeners === undefined) {
        listeners = new Set();
        this.listeners.set(channel, listeners);
        fresh.push(channel);
      }
      listeners.add(listener);
    }
    if (fresh.length === 0) return;
    try {
      await reach('subscribe', () => this.connection.subscribe(...fresh));
    } catch (error) {
      this.forget(channels, listener);
      throw error;
    }
  }

  /** Removes `listener` from each channel, unsubscribing those left with none. */
  async remove(channels: readonly string[], listener: MessageListener): Promise<void> {
    const emptied = this.forget(channels, listener);
    if (emptied.length === 0) return;
    await reach('unsubscribe', () => this.connection.unsubscribe(...emptied));
  }

  private forget(channels: readonly string[], listener: MessageListener): string[] {
    const emptied: string[] = [];
    for (const channel of channels) {
      const listeners = this.listeners.get(channel);
      if (listeners?.delete(listener) !== true) continue;
      if (listeners.size === 0) {
        this.listeners.delete(channel);
        emptied.push(channel);
      }
    }
    return emptied;
  }
}
