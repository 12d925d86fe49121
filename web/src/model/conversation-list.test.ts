import { describe, expect, it } from 'vitest';
import { conversationOf, targetOf } from '../connection/conversations.js';
import type { ChatMessage } from '../connection/frames.js';
import { byRecentActivity, oldestFirst, unreadCount, withMessages, type Conversation } from './conversation-list.js';
import { describeProblem } from './problem-words.js';

function conversation(conv: string, messages: Partial<ChatMessage>[]): Conversation {
  const full = messages.map((message, index): ChatMessage => ({ id: `0${index}`, conv, from: 'bob', to: { user: 'alice' }, text: 't', ts: index, ...message }));
  return withMessages({ conv, messages: new Map(), olderRemain: undefined }, full);
}

describe('the conversation list', () => {
  it('names conversations as the protocol does, both ways', () => {
    expect(conversationOf('bob', { user: 'alice' })).toBe('dm:alice:bob');
    expect(conversationOf('alice', { user: 'bob' })).toBe('dm:alice:bob');
    expect(conversationOf('alice', { group: 'team' })).toBe('g:team');
    expect(targetOf('alice', 'dm:alice:bob')).toEqual({ user: 'bob' });
    expect(targetOf('bob', 'dm:alice:bob')).toEqual({ user: 'alice' });
    expect(targetOf('alice', 'g:team')).toEqual({ group: 'team' });
    expect(targetOf('carol', 'dm:alice:bob')).toBeUndefined();
  });

  it('counts as unread only others’ messages newer than the read mark', () => {
    const chat = conversation('dm:alice:bob', [{ id: '01' }, { id: '02', from: 'alice' }, { id: '03' }, { id: '04' }]);
    expect(unreadCount(chat, 'alice', undefined)).toBe(3);
    expect(unreadCount(chat, 'alice', '03')).toBe(1);
    expect(unreadCount(chat, 'alice', '04')).toBe(0);
  });

  it('keeps a message once however often it comes, oldest first', () => {
    const chat = withMessages(conversation('g:team', [{ id: '02' }, { id: '01' }]), [{ id: '02', conv: 'g:team', from: 'bob', to: { group: 'team' }, text: 't', ts: 1 }]);
    expect(oldestFirst(chat).map((message) => message.id)).toEqual(['01', '02']);
  });

  it('lists the conversation with the newest message first, empty ones last', () => {
    const empty = conversation('g:quiet', []);
    const older = conversation('dm:alice:bob', [{ ts: 10 }]);
    const newer = conversation('dm:alice:carol', [{ ts: 20 }]);
    expect(byRecentActivity([empty, older, newer]).map((chat) => chat.conv)).toEqual(['dm:alice:carol', 'dm:alice:bob', 'g:quiet']);
  });

  it('says each error in words, with the node’s detail unless brief', () => {
    expect(describeProblem({ code: 'rate_limited', message: 'more than 4 messages per second' })).toBe(
      'You are sending too fast: wait a moment, then retry. (more than 4 messages per second)',
    );
    expect(describeProblem({ code: 'too_large', message: 'x' }, true)).toBe('Message too large: shorten it and send again.');
    expect(describeProblem({ code: 'forbidden', message: 'not a member of team' })).toBe('Not allowed (not a member of team)');
    expect(describeProblem({ code: 'unavailable', message: '' })).toMatch(/unavailable/);
  });
});
