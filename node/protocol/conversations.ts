import type { Target } from './frames.js';

/**
 * Conversation ids, built and read in one place (the node and the web client both use it):
 * a direct conversation between `a` and `b` with a < b in byte order is `dm:a:b`, a group's
 * is `g:<name>`. User ids are ASCII (`UserId`), so string order is byte order.
 */
export function conversationId(from: string, to: Target): string {
  if ('group' in to) return `g:${to.group}`;
  const [first, second] = from <= to.user ? [from, to.user] : [to.user, from];
  return `dm:${first}:${second}`;
}

/** What a conversation id names: a group, or the two users of a direct conversation. */
export type Conversation = { group: string } | { users: readonly [string, string] };

/** Reads a conversation id; undefined for a string of another shape. */
export function parseConversationId(conv: string): Conversation | undefined {
  if (conv.startsWith('g:')) return conv.length > 2 ? { group: conv.slice(2) } : undefined;
  const direct = /^dm:([^:]+):([^:]+)$/.exec(conv);
  if (direct === null) return undefined;
  const [, first = '', second = ''] = direct;
  return { users: [first, second] };
}

/** The group a conversation id names, if it names one. */
export function groupOfConversation(conv: string): string | undefined {
  const parsed = parseConversationId(conv);
  return parsed !== undefined && 'group' in parsed ? parsed.group : undefined;
}

/**
 * Who or what a conversation is with, seen from `me`: the group, or the other user.
 * Undefined for an id of another shape or a direct conversation `me` is not part of.
 */
export function conversationTarget(me: string, conv: string): Target | undefined {
  const parsed = parseConversationId(conv);
  if (parsed === undefined) return undefined;
  if ('group' in parsed) return { group: parsed.group };
  const [first, second] = parsed.users;
  if (me === first) return { user: second };
  if (me === second) return { user: first };
  return undefined;
}

/**
 * The users whose `sync` reaches a message through a row of its own: both users of a direct
 * message (one, when it is to oneself); none for a group message, which members reach
 * through their membership.
 */
export function syncParticipants(from: string, to: Target): string[] {
  return 'user' in to ? [...new Set([from, to.user])] : [];
}
