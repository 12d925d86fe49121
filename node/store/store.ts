import type { ChatMessage, GroupInfo } from '../protocol/frames.js';

/** One open socket of a user, as the mapping table records it. */
export interface SessionRecord {
  user: string;
  node: string;
  session: string;
}

/** A chat node as the node registry records it. */
export interface NodeRecord {
  id: string;
  /** Where other nodes and the operator reach it (`host:adminPort`). */
  address: string;
  startedAt: number;
  heartbeatAt: number;
  connections: number;
}

export interface HistoryPage {
  /** Newest first. */
  messages: ChatMessage[];
  more: boolean;
}

export interface SyncPage {
  /** Oldest first, across all the user's conversations. */
  messages: ChatMessage[];
  /** The cursor for the next page, or null when there is nothing more. */
  next: string | null;
}

/**
 * Everything durable (Cassandra in a cluster, memory in the embedded node). Every write
 * resolves only once it is durable; every failure to reach the store rejects with a
 * `ChatError('unavailable')`.
 */
export interface Store {
  /** Records the group; false when the name is already taken (the first creator wins). */
  createGroup(group: GroupInfo): Promise<boolean>;
  getGroup(name: string): Promise<GroupInfo | undefined>;
  /** Adds both membership directions (group → user, user → group). */
  addMember(group: string, user: string): Promise<void>;
  removeMember(group: string, user: string): Promise<void>;
  isMember(group: string, user: string): Promise<boolean>;
  members(group: string): Promise<string[]>;
  /** The groups a user belongs to, sorted by name. */
  groupsOf(user: string): Promise<string[]>;

  /**
   * Stores a message durably, and notes in each participant's conversation list that the
   * conversation has a message with this id (what `sync` reads). Group messages pass no
   * participants: members reach group conversations through their membership, so a
   * message costs no write per member.
   */
  appendMessage(message: ChatMessage, participants: readonly string[]): Promise<void>;
  /** One stored message, or undefined when it was never stored. */
  findMessage(conv: string, id: string): Promise<ChatMessage | undefined>;
  /** Messages of a conversation older than `before` (all when unset), newest first. */
  history(conv: string, options: { before?: string; limit: number }): Promise<HistoryPage>;
  /**
   * Messages newer than `since` (all when unset), oldest first, of the user's direct
   * conversations and of the groups the user is a member of now.
   */
  sync(user: string, options: { since?: string; limit: number }): Promise<SyncPage>;

  /** Writes a mapping-table row that expires after `ttlSeconds` unless written again. */
  putSession(session: SessionRecord, ttlSeconds: number): Promise<void>;
  deleteSession(session: SessionRecord): Promise<void>;
  sessionsOf(user: string): Promise<SessionRecord[]>;
  sessionsOnNode(node: string): Promise<SessionRecord[]>;
  /** Deletes every mapping row of `node` (a node that left or died). */
  deleteSessionsOnNode(node: string): Promise<void>;

  /** Inserts or refreshes a node-registry row. */
  putNode(node: NodeRecord): Promise<void>;
  deleteNode(id: string): Promise<void>;
  nodes(): Promise<NodeRecord[]>;

  /** Whether the store answers now (for /readyz). */
  isHealthy(): Promise<boolean>;
  close(): Promise<void>;
}
