import type { ChatMessage, GroupInfo } from '../protocol/frames.js';
import type { HistoryPage, NodeRecord, SessionRecord, Store, SyncPage } from './store.js';

/**
 * The embedded node's store: everything in this process's memory, nothing durable. Same
 * behaviour as the Cassandra store, so the node above it cannot tell them apart.
 */
export class MemoryStore implements Store {
  private readonly groups = new Map<string, GroupInfo>();
  private readonly groupMembers = new Map<string, Set<string>>();
  private readonly userGroups = new Map<string, Set<string>>();
  /** Per conversation, messages in id order (oldest first). */
  private readonly conversations = new Map<string, ChatMessage[]>();
  private readonly userConversations = new Map<string, Set<string>>();
  private readonly sessions = new Map<string, { record: SessionRecord; expiresAt: number }>();
  private readonly nodeRecords = new Map<string, NodeRecord>();

  createGroup(group: GroupInfo): Promise<boolean> {
    if (this.groups.has(group.name)) return Promise.resolve(false);
    this.groups.set(group.name, { ...group });
    return Promise.resolve(true);
  }

  getGroup(name: string): Promise<GroupInfo | undefined> {
    const group = this.groups.get(name);
    return Promise.resolve(group === undefined ? undefined : { ...group });
  }

  addMember(group: string, user: string): Promise<void> {
    setOf(this.groupMembers, group).add(user);
    setOf(this.userGroups, user).add(group);
    return Promise.resolve();
  }

  removeMember(group: string, user: string): Promise<void> {
    this.groupMembers.get(group)?.delete(user);
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
    const messages = this.conversations.get(message.conv) ?? [];
    this.conversations.set(message.conv, messages);
    if (!messages.some((existing) => existing.id === message.id)) {
      messages.splice(insertionIndex(messages, message.id), 0, structuredClone(message));
    }
    for (const user of participants) setOf(this.userConversations, user).add(message.conv);
    return Promise.resolve();
  }

  findMessage(conv: string, id: string): Promise<ChatMessage | undefined> {
    const found = this.conversations.get(conv)?.find((message) => message.id === id);
    return Promise.resolve(found === undefined ? undefined : structuredClone(found));
  }

  history(conv: string, options: { before?: string; limit: number }): Promise<HistoryPage> {
    const messages = this.conversations.get(conv) ?? [];
    const end = options.before === undefined ? messages.length : insertionIndex(messages, options.before);
    const start = Math.max(0, end - options.limit);
    return Promise.resolve({ messages: messages.slice(start, end).reverse().map((m) => structuredClone(m)), more: start > 0 });
  }

  sync(user: string, options: { since?: string; limit: number }): Promise<SyncPage> {
    const since = options.since;
    const groups = [...(this.userGroups.get(user) ?? [])].map((group) => `g:${group}`);
    const newer = [...(this.userConversations.get(user) ?? []), ...groups]
      .flatMap((conv) => this.conversations.get(conv) ?? [])
      .filter((message) => since === undefined || message.id > since)
      .sort((a, b) => (a.id < b.id ? -1 : a.id > b.id ? 1 : 0));
    const page = newer.slice(0, options.limit).map((m) => structuredClone(m));
    const next = newer.length > options.limit ? (page.at(-1)?.id ?? null) : null;
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

/** The index of the first message whose id is not below `id` (binary search; ids sort as strings). */
function insertionIndex(messages: readonly ChatMessage[], id: string): number {
  let low = 0;
  let high = messages.length;
  while (low < high) {
    const middle = (low + high) >>> 1;
    if ((messages[middle]?.id ?? '') < id) low = middle + 1;
    else high = middle;
  }
  return low;
}
