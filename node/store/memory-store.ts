import { ChatError } from '../protocol/errors.js';
import type { ChatMessage, GroupInfo } from '../protocol/frames.js';
import type { HistoryPage, NodeRecord, SessionRecord, Store, SyncPage } from './store.js';

/** How much the embedded store keeps (PROTOCOL.md's sync and history answer from what is kept). */
export interface MemoryStoreBounds {
  /** Messages kept per conversation; past it the conversation's oldest is dropped. */
  maxMessagesPerConversation: number;
  /** Estimated bytes of all kept messages together; past it the oldest message anywhere is dropped. */
  maxBytes: number;
}

/** What fits a laptop running a demo: a long conversation, and a few tens of MiB in all. */
export const DEFAULT_MEMORY_STORE_BOUNDS: MemoryStoreBounds = { maxMessagesPerConversation: 10_000, maxBytes: 32 * 1024 * 1024 };

/**
 * Groups and memberships are not dropped (a member would lose their group): past these the
 * embedded node refuses new ones with `unavailable`, saying why. A laptop's worth.
 */
export const MAX_EMBEDDED_GROUPS = 10_000;
export const MAX_EMBEDDED_MEMBERSHIPS = 100_000;

/** Which bound made the store drop its first message. */
export type DropReason = 'conversation' | 'total';

export interface MemoryStoreOptions {
  bounds?: MemoryStoreBounds;
  /** Called once per bound, when it first makes the store drop a message (the node logs it). */
  onFirstDrop?: (reason: DropReason, bounds: MemoryStoreBounds) => void;
}

/**
 * Per-message cost beyond its strings: the object, its `to`, the array slots and the
 * bookkeeping entry. A rough figure; the bound is on this estimate, not on the heap.
 */
const MESSAGE_OVERHEAD_BYTES = 200;

/** A kept message, its estimated size, and its place in the order of arrival. */
interface KeptMessage {
  message: ChatMessage;
  bytes: number;
  arrival: Arrival;
}

/**
 * A message's place in the order of arrival: its key only, never the message, so entries
 * waiting for compaction hold no text.
 */
interface Arrival {
  conv: string;
  id: string;
  /** A bound dropped it already (a conversation's own, before the total reached it). */
  dropped: boolean;
}

/**
 * The embedded node's store: everything in this process's memory, nothing durable, and
 * bounded (oldest messages dropped first, per conversation and in total). Otherwise the
 * same behaviour as the Cassandra store, so the node above it cannot tell them apart.
 */
export class MemoryStore implements Store {
  private readonly groups = new Map<string, GroupInfo>();
  private readonly groupMembers = new Map<string, Set<string>>();
  private readonly userGroups = new Map<string, Set<string>>();
  private memberships = 0;
  /** Per conversation, kept messages in id order (oldest first); no entry once all are dropped. */
  private readonly conversations = new Map<string, KeptMessage[]>();
  private readonly userConversations = new Map<string, Set<string>>();
  private readonly sessions = new Map<string, { record: SessionRecord; expiresAt: number }>();
  private readonly nodeRecords = new Map<string, NodeRecord>();
  /**
   * Every kept message's key in the order it was appended: what the total bound drops from.
   * Appends arrive in about id order, so this is "oldest first" without a sort. Entries
   * a conversation's own bound dropped stay until compaction skips them.
   */
  private arrivals: Arrival[] = [];
  private arrivalsHead = 0;
  private droppedInArrivals = 0;
  private keptBytes = 0;
  private readonly boundsReached = new Set<DropReason>();
  private readonly bounds: MemoryStoreBounds;
  private readonly onFirstDrop: MemoryStoreOptions['onFirstDrop'];

  constructor(options: MemoryStoreOptions = {}) {
    this.bounds = options.bounds ?? DEFAULT_MEMORY_STORE_BOUNDS;
    this.onFirstDrop = options.onFirstDrop;
  }

  /** What the store keeps now, for tests and metrics. */
  usage(): { messages: number; bytes: number; conversations: number } {
    return { messages: this.arrivals.length - this.arrivalsHead - this.droppedInArrivals, bytes: this.keptBytes, conversations: this.conversations.size };
  }

  createGroup(group: GroupInfo): Promise<boolean> {
    if (this.groups.has(group.name)) return Promise.resolve(false);
    if (this.groups.size >= MAX_EMBEDDED_GROUPS) return Promise.reject(embeddedFull(`${MAX_EMBEDDED_GROUPS} groups`));
    this.groups.set(group.name, { ...group });
    return Promise.resolve(true);
  }

  getGroup(name: string): Promise<GroupInfo | undefined> {
    const group = this.groups.get(name);
    return Promise.resolve(group === undefined ? undefined : { ...group });
  }

  addMember(group: string, user: string): Promise<void> {
    const members = setOf(this.groupMembers, group);
    if (members.has(user)) return Promise.resolve();
    if (this.memberships >= MAX_EMBEDDED_MEMBERSHIPS) return Promise.reject(embeddedFull(`${MAX_EMBEDDED_MEMBERSHIPS} group memberships`));
    members.add(user);
    setOf(this.userGroups, user).add(group);
    this.memberships += 1;
    return Promise.resolve();
  }

  removeMember(group: string, user: string): Promise<void> {
    if (this.groupMembers.get(group)?.delete(user) === true) this.memberships -= 1;
    this.userGroups.get(user)?.delete(group);
    return Promise.resolve();
  }

  isMember(group: string, user: string): Promise<boolean> {
    return Promise.resolve(this.groupMembers.get(group)?.has(user) ?? false);
  }

  members(group: string): Promise<string[]> {
    return Promise.resolve(sorted(this.groupMembers.get(group)));
  }

  groupsOf(user: string): Promise<string[]> {
    return Promise.resolve(sorted(this.userGroups.get(user)));
  }

  appendMessage(message: ChatMessage, participants: readonly string[]): Promise<void> {
    let kept = this.conversations.get(message.conv);
    if (kept === undefined) {
      kept = [];
      this.conversations.set(message.conv, kept);
    }
    for (const user of participants) setOf(this.userConversations, user).add(message.conv);
    const index = insertionIndex(kept, message.id);
    // A retried append of a message already kept stores nothing new.
    if (kept[index]?.message.id === message.id) return Promise.resolve();
    const arrival: Arrival = { conv: message.conv, id: message.id, dropped: false };
    const entry: KeptMessage = { message: structuredClone(message), bytes: estimatedBytes(message), arrival };
    kept.splice(index, 0, entry);
    this.arrivals.push(arrival);
    this.keptBytes += entry.bytes;
    if (kept.length > this.bounds.maxMessagesPerConversation) {
      const oldest = kept.shift();
      if (oldest !== undefined) this.drop(oldest, 'conversation');
    }
    this.dropOldestUntilWithinTotal();
    return Promise.resolve();
  }

  findMessage(conv: string, id: string): Promise<ChatMessage | undefined> {
    const kept = this.conversations.get(conv) ?? [];
    const found = kept[insertionIndex(kept, id)];
    return Promise.resolve(found?.message.id === id ? structuredClone(found.message) : undefined);
  }

  history(conv: string, options: { before?: string; limit: number }): Promise<HistoryPage> {
    const kept = this.conversations.get(conv) ?? [];
    const end = options.before === undefined ? kept.length : insertionIndex(kept, options.before);
    const start = Math.max(0, end - options.limit);
    const page = kept.slice(start, end).reverse().map((entry) => structuredClone(entry.message));
    return Promise.resolve({ messages: page, more: start > 0 });
  }

  sync(user: string, options: { since?: string; limit: number }): Promise<SyncPage> {
    const { since, limit } = options;
    const groups = [...(this.userGroups.get(user) ?? [])].map((group) => `g:${group}`);
    const direct = this.userConversations.get(user);
    const candidates: ChatMessage[] = [];
    for (const conv of [...(direct ?? []), ...groups]) {
      const kept = this.conversations.get(conv);
      if (kept === undefined) {
        // Every message of it was dropped: forget it, so the user's list stays as bounded as the messages.
        direct?.delete(conv);
        continue;
      }
      // Each conversation gives at most limit + 1 candidates: enough for a page and to know there is more.
      const first = since === undefined ? 0 : firstAfter(kept, since);
      for (const entry of kept.slice(first, first + limit + 1)) candidates.push(entry.message);
    }
    candidates.sort((a, b) => (a.id < b.id ? -1 : a.id > b.id ? 1 : 0));
    const page = candidates.slice(0, limit).map((m) => structuredClone(m));
    const next = candidates.length > limit ? (page.at(-1)?.id ?? null) : null;
    return Promise.resolve({ messages: page, next });
  }

  putSession(session: SessionRecord, ttlSeconds: number): Promise<void> {
    this.sessions.set(sessionKey(session), { record: { ...session }, expiresAt: Date.now() + ttlSeconds * 1000 });
    return Promise.resolve();
  }

  deleteSession(session: SessionRecord): Promise<void> {
    this.sessions.delete(sessionKey(session));
    return Promise.resolve();
  }

  sessionsOf(user: string): Promise<SessionRecord[]> {
    return Promise.resolve(this.liveSessions().filter((session) => session.user === user));
  }

  sessionsOnNode(node: string): Promise<SessionRecord[]> {
    return Promise.resolve(this.liveSessions().filter((session) => session.node === node));
  }

  async deleteSessionsOnNode(node: string): Promise<void> {
    for (const session of await this.sessionsOnNode(node)) this.sessions.delete(sessionKey(session));
  }

  putNode(node: NodeRecord): Promise<void> {
    this.nodeRecords.set(node.id, { ...node });
    return Promise.resolve();
  }

  deleteNode(id: string): Promise<void> {
    this.nodeRecords.delete(id);
    return Promise.resolve();
  }

  nodes(): Promise<NodeRecord[]> {
    return Promise.resolve([...this.nodeRecords.values()].map((node) => ({ ...node })));
  }

  isHealthy(): Promise<boolean> {
    return Promise.resolve(true);
  }

  close(): Promise<void> {
    return Promise.resolve();
  }

  /** Drops the oldest kept messages, across conversations, until the total fits its bound. */
  private dropOldestUntilWithinTotal(): void {
    while (this.keptBytes > this.bounds.maxBytes && this.arrivalsHead < this.arrivals.length) {
      const oldest = this.arrivals[this.arrivalsHead];
      this.arrivalsHead += 1;
      if (oldest === undefined) break;
      if (oldest.dropped) {
        this.droppedInArrivals -= 1;
        continue;
      }
      const removed = this.removeFromConversation(oldest);
      if (removed === undefined) continue;
      this.drop(removed, 'total');
      this.droppedInArrivals -= 1;
    }
    this.compactArrivals();
  }

  private drop(entry: KeptMessage, reason: DropReason): void {
    entry.arrival.dropped = true;
    this.droppedInArrivals += 1;
    this.keptBytes -= entry.bytes;
    const kept = this.conversations.get(entry.message.conv);
    if (kept !== undefined && kept.length === 0) this.conversations.delete(entry.message.conv);
    if (!this.boundsReached.has(reason)) {
      this.boundsReached.add(reason);
      this.onFirstDrop?.(reason, this.bounds);
    }
  }

  private removeFromConversation(arrival: Arrival): KeptMessage | undefined {
    const kept = this.conversations.get(arrival.conv);
    if (kept === undefined) return undefined;
    // Usually the conversation's oldest; an append that arrived late may sit further in.
    const index = kept[0]?.message.id === arrival.id ? 0 : insertionIndex(kept, arrival.id);
    return kept[index]?.message.id === arrival.id ? kept.splice(index, 1)[0] : undefined;
  }

  /** Forgets the consumed head and the entries dropped by a conversation's bound, once they are half the list. */
  private compactArrivals(): void {
    const waste = this.arrivalsHead + this.droppedInArrivals;
    if (waste < 1024 || waste * 2 < this.arrivals.length) return;
    this.arrivals = this.arrivals.slice(this.arrivalsHead).filter((arrival) => !arrival.dropped);
    this.arrivalsHead = 0;
    this.droppedInArrivals = 0;
  }

  private liveSessions(): SessionRecord[] {
    const now = Date.now();
    const live: SessionRecord[] = [];
    for (const [key, { record, expiresAt }] of this.sessions) {
      if (expiresAt <= now) this.sessions.delete(key);
      else live.push({ ...record });
    }
    return live;
  }
}

function setOf<K, V>(map: Map<K, Set<V>>, key: K): Set<V> {
  let set = map.get(key);
  if (set === undefined) {
    set = new Set();
    map.set(key, set);
  }
  return set;
}

function sorted(values: Iterable<string> | undefined): string[] {
  return [...(values ?? [])].sort();
}

function sessionKey(session: SessionRecord): string {
  return `${session.user}\u0000${session.node}\u0000${session.session}`;
}

/** The estimated memory of one message: its strings (UTF-16 at worst) and a fixed overhead. */
function estimatedBytes(message: ChatMessage): number {
  const strings = message.id.length + message.conv.length + message.from.length + message.text.length + ('user' in message.to ? message.to.user : message.to.group).length;
  return 2 * strings + MESSAGE_OVERHEAD_BYTES;
}

/** The index of the first kept message whose id is not below `id` (binary search; ids sort as strings). */
function insertionIndex(kept: readonly KeptMessage[], id: string): number {
  let low = 0;
  let high = kept.length;
  while (low < high) {
    const middle = (low + high) >>> 1;
    if ((kept[middle]?.message.id ?? '') < id) low = middle + 1;
    else high = middle;
  }
  return low;
}

/** The index of the first kept message whose id is above `id`. */
function firstAfter(kept: readonly KeptMessage[], id: string): number {
  const index = insertionIndex(kept, id);
  return kept[index]?.message.id === id ? index + 1 : index;
}

function embeddedFull(what: string): ChatError {
  return new ChatError('unavailable', `the embedded node keeps at most ${what}; run a cluster (Redis and Cassandra) for more`);
}
