import type { Bus, PresenceChannel } from '../bus/bus.js';
import type { PresenceStatus } from '../protocol/frames.js';
import { EncodedFrame, type ClientConnection } from './local-sockets.js';

/**
 * Presence watch lists of this node's sockets. The node follows a user on the bus while
 * at least one local socket watches them, and relays each change to those sockets.
 *
 * A socket hears a status only when it differs from the last one it was told: the node
 * follows a user before it reads their status, so an announcement made before that read
 * can arrive after the reply, and it is no change for the watcher (PROTOCOL.md: one event
 * per change).
 */
export class PresenceHub {
  private readonly watchers = new Map<string, Set<ClientConnection>>();
  /** Per socket, the users it watches and the status it was last told of each (none yet: undefined). */
  private readonly watchedBy = new Map<ClientConnection, Map<string, PresenceStatus | undefined>>();
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
    const previous = this.watchedBy.get(connection) ?? new Map<string, PresenceStatus | undefined>();
    const added = [...wanted].filter((user) => !previous.has(user));
    const removed = [...previous.keys()].filter((user) => !wanted.has(user));
    const told = new Map([...wanted].map((user) => [user, previous.get(user)]));
    this.watchedBy.set(connection, told);
    await this.channelOrFail().follow(added.filter((user) => this.addWatcher(user, connection)));
    await this.channelOrFail().unfollow(removed.filter((user) => this.removeWatcher(user, connection)));
    const online = await this.bus.routes.onlineStatus([...wanted]);
    const statuses = [...wanted].map((user): [string, PresenceStatus] => [user, online[user] === true ? 'online' : 'offline']);
    // Only if this is still the socket's list: a later watch may have replaced it meanwhile.
    if (this.watchedBy.get(connection) === told) for (const [user, status] of statuses) told.set(user, status);
    return Object.fromEntries(statuses);
  }

  /** Drops a closed socket's watch list, and stops following the users no local socket watches now. */
  async forget(connection: ClientConnection): Promise<void> {
    const unfollowed = this.drop(connection);
    if (unfollowed.length > 0) await this.channel?.unfollow(unfollowed);
  }

  /** Drops a closed socket's watch list here only; returns the users no local socket watches now. */
  drop(connection: ClientConnection): string[] {
    const users = [...(this.watchedBy.get(connection)?.keys() ?? [])];
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
      const told = this.watchedBy.get(connection);
      if (told === undefined || told.get(user) === status) continue;
      told.set(user, status);
      frame ??= new EncodedFrame({ type: 'presence', user, status });
      connection.send(frame);
    }
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
