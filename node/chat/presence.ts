import type { Bus, PresenceChannel } from '../bus/bus.js';
import type { PresenceStatus } from '../protocol/frames.js';
import { EncodedFrame, type ClientConnection } from './local-sockets.js';

/** A socket's watch list: its users, the status it was last told of each, and what came while its reply was due. */
interface WatchList {
  readonly users: ReadonlySet<string>;
  /** Per watched user, the status the socket last heard (the reply or an event since). */
  readonly told: Map<string, PresenceStatus>;
  /** While the reply is due, the latest status heard of each user meanwhile; null once the reply is out. */
  early: Map<string, PresenceStatus> | null;
}

/**
 * Presence watch lists of this node's sockets. The node follows a user on the bus while
 * at least one local socket watches them, and relays each change to those sockets.
 *
 * PROTOCOL.md promises the reply, then one event per change. So events that arrive while a
 * watch's reply is due wait for it, and a socket hears a status only when it differs from
 * the last one it was told: the node follows a user before it reads their status, so an
 * announcement made before that read can arrive after it, and it is no change.
 */
export class PresenceHub {
  private readonly watchers = new Map<string, Set<ClientConnection>>();
  private readonly watchedBy = new Map<ClientConnection, WatchList>();
  /** Per followed user, the subscription under way or done: a second watcher waits for it too. */
  private readonly following = new Map<string, Promise<void>>();
  private channel: PresenceChannel | undefined;

  constructor(private readonly bus: Bus) {}

  async start(): Promise<void> {
    this.channel = await this.bus.presence((user, status) => {
      this.relay(user, status);
    });
  }

  /**
   * Replaces a socket's watch list and gives `reply` the watched users' current status,
   * then tells the socket of any change heard meanwhile. The node follows before it reads
   * the status, so no change falls between the two.
   */
  async watch(connection: ClientConnection, users: readonly string[], reply: (statuses: Record<string, PresenceStatus>) => void): Promise<void> {
    const wanted = new Set(users);
    const previous = this.watchedBy.get(connection)?.users ?? new Set<string>();
    const list: WatchList = { users: wanted, told: new Map(), early: new Map() };
    this.watchedBy.set(connection, list);
    // Users no longer wanted stop reaching the socket now, not after the awaits below.
    const unfollowed = [...previous].filter((user) => !wanted.has(user) && this.removeWatcher(user, connection));
    const added = [...wanted].filter((user) => !previous.has(user));
    let online: Record<string, boolean>;
    try {
      await Promise.all([this.follow(added, connection), unfollowed.length > 0 ? this.channelOrFail().unfollow(unfollowed) : undefined]);
      online = await this.bus.routes.onlineStatus([...wanted]);
    } catch (error) {
      // The socket is told of the failure and watches nothing; watching again starts afresh.
      await this.forget(connection).catch(() => undefined);
      throw error;
    }
    const statuses = Object.fromEntries([...wanted].map((user): [string, PresenceStatus] => [user, online[user] === true ? 'online' : 'offline']));
    reply(statuses);
    // A later watch may have replaced this list meanwhile; it tells its own reply.
    if (this.watchedBy.get(connection) !== list) return;
    const early = list.early ?? new Map<string, PresenceStatus>();
    list.early = null;
    for (const [user, status] of Object.entries(statuses)) list.told.set(user, status);
    for (const [user, status] of early) this.tell(connection, list, user, status);
  }

  /** Drops a closed socket's watch list, and stops following the users no local socket watches now. */
  async forget(connection: ClientConnection): Promise<void> {
    const unfollowed = this.drop(connection);
    if (unfollowed.length > 0) await this.channel?.unfollow(unfollowed);
  }

  /** Drops a closed socket's watch list here only; returns the users no local socket watches now. */
  drop(connection: ClientConnection): string[] {
    const users = [...(this.watchedBy.get(connection)?.users ?? [])];
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
    let frame: EncodedFrame | undefined;
    for (const connection of watchers) {
      // A socket in `watchers` of a user has that user in its list (watch() keeps both together).
      const list = this.watchedBy.get(connection);
      if (list === undefined) continue;
      if (list.early !== null) {
        list.early.set(user, status);
        continue;
      }
      frame ??= new EncodedFrame({ type: 'presence', user, status });
      this.tell(connection, list, user, status, frame);
    }
  }

  /** Sends the socket `user`'s status (as `frame`, when encoded once for many) unless it was the last it was told. */
  private tell(connection: ClientConnection, list: WatchList, user: string, status: PresenceStatus, frame?: EncodedFrame): void {
    if (list.told.get(user) === status) return;
    list.told.set(user, status);
    connection.send(frame ?? { type: 'presence', user, status });
  }

  /**
   * Follows the users the socket adds, and waits until each is followed: the first local
   * watcher of a user subscribes, later ones wait for that same subscription.
   */
  private async follow(users: readonly string[], connection: ClientConnection): Promise<void> {
    const first = users.filter((user) => this.addWatcher(user, connection));
    if (first.length > 0) {
      const subscribed = this.channelOrFail().follow(first);
      // Should it fail, every watch waiting on it fails and forgets its socket, which ends the entry (removeWatcher).
      for (const user of first) this.following.set(user, subscribed);
    }
    await Promise.all(users.flatMap((user) => this.following.get(user) ?? []));
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
    this.following.delete(user);
    return true;
  }

  private channelOrFail(): PresenceChannel {
    if (this.channel === undefined) throw new Error('PresenceHub.start() was not called');
    return this.channel;
  }
}
