import type { ChatMessage } from '../connection/frames.js';

/** One conversation as the page holds it: the messages it has (by id) and how far back it has read. */
export interface Conversation {
  conv: string;
  messages: ReadonlyMap<string, ChatMessage>;
  /** Whether older messages remain on the node; undefined until the first `history` reply. */
  olderRemain: boolean | undefined;
}

/** Messages oldest first: ids sort in time order within a conversation. */
export function oldestFirst(conversation: Conversation): ChatMessage[] {
  return [...conversation.messages.values()].sort((a, b) => (a.id < b.id ? -1 : a.id > b.id ? 1 : 0));
}

/** The newest message id, or undefined for a conversation with none. */
export function newestId(conversation: Conversation): string | undefined {
  let newest: string | undefined;
  for (const id of conversation.messages.keys()) if (newest === undefined || id > newest) newest = id;
  return newest;
}

/** Messages from others newer than what the user has read. */
export function unreadCount(conversation: Conversation, me: string, readUpTo: string | undefined): number {
  let count = 0;
  for (const message of conversation.messages.values()) {
    if (message.from !== me && (readUpTo === undefined || message.id > readUpTo)) count += 1;
  }
  return count;
}

/** The list's order: the conversation with the newest message first, empty ones last by name. */
export function byRecentActivity(conversations: readonly Conversation[]): Conversation[] {
  return [...conversations].sort((a, b) => {
    const newestA = newestId(a);
    const newestB = newestId(b);
    const timeA = newestA === undefined ? 0 : (a.messages.get(newestA)?.ts ?? 0);
    const timeB = newestB === undefined ? 0 : (b.messages.get(newestB)?.ts ?? 0);
    return timeB - timeA || a.conv.localeCompare(b.conv);
  });
}

/** The conversation with `messages` added; messages it already holds (same id) are kept once. */
export function withMessages(conversation: Conversation, messages: readonly ChatMessage[]): Conversation {
  const merged = new Map(conversation.messages);
  for (const message of messages) merged.set(message.id, message);
  return { ...conversation, messages: merged };
}
