import type { Target } from './frames.js';

/** The conversation id of PROTOCOL.md: `dm:a:b` (a < b, byte order) or `g:<name>`. */
export function conversationOf(me: string, to: Target): string {
  if ('group' in to) return `g:${to.group}`;
  const [first, second] = me < to.user ? [me, to.user] : [to.user, me];
  return `dm:${first}:${second}`;
}

/** Who or what a conversation id is with, seen from `me`; undefined for an id of another shape. */
export function targetOf(me: string, conv: string): Target | undefined {
  if (conv.startsWith('g:')) return { group: conv.slice(2) };
  const parts = conv.split(':');
  if (parts.length !== 3 || parts[0] !== 'dm') return undefined;
  const [, first = '', second = ''] = parts;
  if (first === me) return { user: second };
  if (second === me) return { user: first };
  return undefined;
}
