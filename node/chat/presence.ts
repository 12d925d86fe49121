import type { Bus, PresenceChannel } from '../bus/bus.js';
import type { PresenceStatus } from '../protocol/frames.js';
import { EncodedFrame, type ClientConnection } from './local-sockets.js';

/**
 * Presence watch lists of this node's sockets. The node follows a user on the bus while
 * at least one local socket watches them, and relays each change to those sockets.
 */
export class PresenceHub {
  private readonly watchers = new Map<string, Set<ClientConnection>>();
  private readonly watchedBy = new Map<ClientConnection, Set<string>>();
  private channel: PresenceChannel | undefined;

  constructor(private readonly bus: Bus) {}

  async start(): Promise<void> {
    this.channel = await this.bus.presence((user, status) => {
      this.relay(user, status);
    });
  }

  /**
   * Replaces a socket's watch list and answers the watched users' current status. The
   * node follows before it reads the status, so no change falls between the two.
   */
  async watch(connection: ClientConnection, users: readonly string[]): Promise<Record<string, PresenceStatus>> {
    const wanted = new Set(users);
    const previous = this.watchedBy.get(connection) ?? new Set<string>();
    const added = [...wanted].filter((user) => !previous.has(user));
    const removed = [...previous].filter((user) => !wanted.has(user));
    this.watchedBy.set(connection, wanted);
    await this.channelOrFail().follow(added.filter((user) => this.addWatcher(user, connection)));
    await this.channelOrFail().unfollow(removed.filter((user) => this.removeWatcher(user, connection)));
    const online = await this.bus.routes.onlineStatus([...wanted]);
    return Object.fromEntries([...wanted].map((user) => [user, online[user] === true ? 'online' : 'offline']));
  }

  /** Drops a closed socket's watch list, and stops following the users no local socket watches now. */
  async forget(connection: ClientConnection): Promise<void> {
    const unfollowed = this.drop(connection);
    if (unfollowed.length > 0) await this.channel?.unfollow(unfollowed);
  }

  /** Drops a closed socket's watch list here only; returns the users no local socket watches now. */
  drop(connection: ClientConnection): string[] {
    const users = [...(this.watchedBy.get(connection) ?? [])];
    this.watchedBy.delete(connection);
    return users.filter((user) => this.removeWatcher(user, connection));
  }

  /** Tells every node following `user` that its status changed. */
  async announce(user: string, status: PresenceStatus): Promise<void> {
    await this.channel?.announce(user, status);
  }

  private relay(user: string, status: PresenceStatus): void {
    const watchers = this.watchers.get(user);
    if (watchers === undefined) return;
    const frame = new EncodedFrame({ type: 'presence', user, status });
    for (const connection of watchers) connection.send(frame);
  }

  /** True when this is the user's first local watcher (the node must start following). */
  private addWatcher(user: string, connection: ClientConnection): boolean {
    const set = this.watchers.get(user) ?? new Set();
    this.watchers.set(user, set);
    set.add(connection);
    return set.size === 1;
  }

  /** True when the user has no local watcher left (the node can stop following). */
  private removeWatcher(user: string, connection: ClientConnection): boolean {
    const set = this.watchers.get(user);
    if (set?.delete(connection) !== true || set.size > 0) return false;
    this.watchers.delete(user);
    return true;
  }

  private channelOrFail(): PresenceChannel {
    if (this.channel === undefined) throw new Error('PresenceHub.start() was not called');
    return this.channel;
  }
}
