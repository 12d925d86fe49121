import { publish, type RedisClient } from './connection.js';
import type { PresenceStatus } from '../../protocol/frames.js';
import type { PresenceChannel, PresenceHandler } from '../bus.js';
import type { ChannelSubscriptions, MessageListener } from './channels.js';
import type { BusKeys } from './keys.js';
import { reach } from './replies.js';

/** Presence on pub/sub: one channel per user, followed while some socket here watches them. */
export class RedisPresenceChannel implements PresenceChannel {
  /** One listener per followed user: following twice is following once. */
  private readonly followed = new Map<string, MessageListener>();

  constructor(
    private readonly redis: RedisClient,
    private readonly subscriptions: ChannelSubscriptions,
    private readonly keys: BusKeys,
    private readonly handler: PresenceHandler,
    private readonly report: (error: unknown) => void,
  ) {}

  /** Tells every node following `user` its new status. */
  async announce(user: string, status: PresenceStatus): Promise<void> {
    await reach('announce presence', () => publish(this.redis, this.keys.presenceChannel(user), status));
  }

  /** Starts receiving these users' changes. */
  async follow(users: readonly string[]): Promise<void> {
    await Promise.all(
      [...new Set(users)]
        .filter((user) => !this.followed.has(user))
        .map(async (user) => {
          const listener: MessageListener = (message) => {
            if (message === 'online' || message === 'offline') this.handler(user, message);
            else this.report(new Error(`presence of ${user} is not a status: ${message.slice(0, 200)}`));
          };
          this.followed.set(user, listener);
          try {
            await this.subscriptions.add([this.keys.presenceChannel(user)], listener);
          } catch (error) {
            this.followed.delete(user);
            throw error;
          }
        }),
    );
  }

  /** Stops receiving these users' changes. */
  async unfollow(users: readonly string[]): Promise<void> {
    await Promise.all(
      [...new Set(users)].map(async (user) => {
        const listener = this.followed.get(user);
        if (listener === undefined) return;
        this.followed.delete(user);
        await this.subscriptions.remove([this.keys.presenceChannel(user)], listener);
      }),
    );
  }
}
