import type { Bus, PresenceChannel, PresenceHandler } from '../bus.js';
import { MemoryHeartbeats } from './heartbeats.js';
import { MemoryIdempotencyKeys } from './idempotency.js';
import { MemoryInbox } from './inbox.js';
import { MemoryProgressLedger } from './progress.js';
import { MemoryRouteCache } from './route-cache.js';
import { MemorySignals } from './signals.js';

/**
 * The embedded node's bus: in-process queues and maps with the Redis bus's behaviour, a
 * file per port as there. One instance can serve several nodes of one process (tests do this).
 */
export class MemoryBus implements Bus {
  private readonly presenceFollowers = new Set<{ users: Set<string>; handler: PresenceHandler }>();

  readonly inbox = new MemoryInbox();
  readonly signals = new MemorySignals();
  readonly routes = new MemoryRouteCache();
  readonly idempotency = new MemoryIdempotencyKeys();
  readonly heartbeats = new MemoryHeartbeats();
  readonly progress = new MemoryProgressLedger();

  presence(handler: PresenceHandler): Promise<PresenceChannel> {
    const follower = { users: new Set<string>(), handler };
    this.presenceFollowers.add(follower);
    return Promise.resolve({
      announce: (user, status) => {
        for (const { users, handler: notify } of this.presenceFollowers) {
          if (users.has(user)) notify(user, status);
        }
        return Promise.resolve();
      },
      follow: (users) => {
        for (const user of users) follower.users.add(user);
        return Promise.resolve();
      },
      unfollow: (users) => {
        for (const user of users) follower.users.delete(user);
        return Promise.resolve();
      },
    });
  }

  onReconnect(): void {
    // An in-process bus never loses its server.
  }

  isHealthy(): Promise<boolean> {
    return Promise.resolve(true);
  }

  close(): Promise<void> {
    this.inbox.close();
    return Promise.resolve();
  }
}
