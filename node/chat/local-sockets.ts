import type { ServerFrame } from '../protocol/frames.js';

/**
 * A frame serialized once for many sockets: a group message or typing signal reaches
 * thousands of members, and each socket writes the same bytes instead of serializing the
 * frame again. `frame` is what the bytes say.
 */
export class EncodedFrame {
  readonly bytes: Buffer;

  constructor(readonly frame: ServerFrame) {
    this.bytes = Buffer.from(JSON.stringify(frame));
  }
}

export type OutgoingFrame = ServerFrame | EncodedFrame;

/** One open socket on this node, as the chat logic sees it. */
export interface ClientConnection {
  readonly user: string;
  readonly session: string;
  /** Queues a frame; a connection over its send-buffer bound closes itself instead. */
  send(frame: OutgoingFrame): void;
  close(code: number, reason: string): void;
}

/** A read of a user's groups in progress (LocalSockets.startGroupsRead). */
export interface GroupsRead {
  /** The groups the read answered, without those the user left since it began; ends the read (again: no more leaves taken out). */
  finish(groups: readonly string[]): string[];
}

/**
 * This node's sockets by user, and the groups of its connected users, so a message that
 * reaches the node is delivered to exactly its local sockets.
 */
export class LocalSockets {
  private readonly byUser = new Map<string, Set<ClientConnection>>();
  private readonly groupsByUser = new Map<string, Set<string>>();
  private readonly usersByGroup = new Map<string, Set<string>>();
  /** For each read of a user's groups in progress, the groups the user left since it began. */
  private readonly leftDuringReads = new Map<string, Set<Set<string>>>();
  /** Kept as sockets come and go: counting them over every user on each open and close made opening n sockets O(n²). */
  private count = 0;

  get connectionCount(): number {
    return this.count;
  }

  all(): ClientConnection[] {
    return [...this.byUser.values()].flatMap((connections) => [...connections]);
  }

  /** Adds a socket; true when it is the user's first on this node. */
  add(connection: ClientConnection): boolean {
    const connections = this.byUser.get(connection.user) ?? new Set();
    this.byUser.set(connection.user, connections);
    if (!connections.has(connection)) this.count += 1;
    connections.add(connection);
    return connections.size === 1;
  }

  /** Removes a socket; true when it was the user's last on this node. */
  remove(connection: ClientConnection): boolean {
    const connections = this.byUser.get(connection.user);
    if (connections?.delete(connection) !== true) return false;
    this.count -= 1;
    if (connections.size > 0) return false;
    this.byUser.delete(connection.user);
    return true;
  }

  hasUser(user: string): boolean {
    return this.byUser.has(user);
  }

  /**
   * Sends `frame` (or the frame it makes for each socket) to every local socket of `users`
   * but `exceptSession`; the number of sockets reached.
   */
  deliver(users: Iterable<string>, frame: OutgoingFrame | ((connection: ClientConnection) => OutgoingFrame), exceptSession?: string): number {
    let delivered = 0;
    for (const user of new Set(users)) {
      for (const connection of this.byUser.get(user) ?? []) {
        if (connection.session === exceptSession) continue;
        connection.send(typeof frame === 'function' ? frame(connection) : frame);
        delivered += 1;
      }
    }
    return delivered;
  }

  /** Local users who are members of `group`. */
  membersOf(group: string): string[] {
    return [...(this.usersByGroup.get(group) ?? [])];
  }

  /** Records that a connected user is in `group`; true when the node now hosts its first member. */
  joinGroup(user: string, group: string): boolean {
    const groups = this.groupsByUser.get(user) ?? new Set();
    this.groupsByUser.set(user, groups);
    groups.add(group);
    const users = this.usersByGroup.get(group) ?? new Set();
    this.usersByGroup.set(group, users);
    users.add(user);
    return users.size === 1;
  }

  /** Records that a user left `group`; true when the node no longer hosts any member. */
  leaveGroup(user: string, group: string): boolean {
    for (const left of this.leftDuringReads.get(user) ?? []) left.add(group);
    this.groupsByUser.get(user)?.delete(group);
    const users = this.usersByGroup.get(group);
    if (users?.delete(user) !== true) return false;
    if (users.size > 0) return false;
    this.usersByGroup.delete(group);
    return true;
  }

  /**
   * Starts a read of `user`'s groups whose answer will be hosted here. A leave heard while it
   * is on its way may be one the read missed: had the node hosted the answer, the socket would
   * get the messages of a group its user left. `finish` takes such groups out.
   */
  startGroupsRead(user: string): GroupsRead {
    const left = new Set<string>();
    const reads = this.leftDuringReads.get(user) ?? new Set<Set<string>>();
    this.leftDuringReads.set(user, reads.add(left));
    return {
      finish: (groups) => {
        if (reads.delete(left) && reads.size === 0) this.leftDuringReads.delete(user);
        return groups.filter((group) => !left.has(group));
      },
    };
  }

  /** Forgets a disconnected user's groups; the groups this node no longer hosts. */
  forgetGroupsOf(user: string): string[] {
    const groups = [...(this.groupsByUser.get(user) ?? [])];
    this.groupsByUser.delete(user);
    return groups.filter((group) => this.leaveGroup(user, group));
  }

  /** Every group this node hosts a member of. */
  hostedGroups(): string[] {
    return [...this.usersByGroup.keys()];
  }
}
