import { describe, expect, it } from 'vitest';
import { ChatError } from './errors.js';
import { parseClientFrame, refOf } from './frames.js';
import { conversationId, conversationTarget, groupOfConversation, parseConversationId } from './conversations.js';
import { isMessageId, messageIdGenerator, messageIdTime } from './ids.js';

function badRequest(text: string): string {
  try {
    parseClientFrame(text);
  } catch (error) {
    if (error instanceof ChatError && error.code === 'bad_request') return error.message;
    throw error;
  }
  throw new Error(`parsed: ${text}`);
}

describe('client frame parsing', () => {
  it('accepts every frame type of protocol version 1', () => {
    const frames = [
      { type: 'send', to: { user: 'bob' }, text: 'hi', idem: 'k', ref: 'r' },
      { type: 'send', to: { group: 'team' }, text: 'hi' },
      { type: 'group.create', name: 'team' },
      { type: 'group.join', group: 'team' },
      { type: 'group.leave', group: 'team' },
      { type: 'group.members', group: 'team' },
      { type: 'groups' },
      { type: 'history', conv: { user: 'bob' }, before: '01M80SH1PZJ77CN0KW429W4AEJ', limit: 200 },
      { type: 'sync', since: 0 },
      { type: 'sync', since: '01M80SH1PZJ77CN0KW429W4AEJ' },
      { type: 'presence.watch', users: ['a', 'b'] },
      { type: 'typing', to: { group: 'team' } },
    ];
    for (const frame of frames) expect(parseClientFrame(JSON.stringify(frame)).type).toBe(frame.type);
    expect(parseClientFrame('{"type":"history","conv":{"user":"bob"}}')).toMatchObject({ limit: 50 });
  });

  it('says what is wrong, naming the field', () => {
    expect(badRequest('nope')).toBe('frame is not valid JSON');
    expect(badRequest('[1]')).toBe('frame is not a JSON object');
    expect(badRequest('{"type":"shout"}')).toBe('unknown frame type "shout"');
    expect(badRequest('{"type":"send","to":{"user":"bob"},"text":""}')).toMatch(/^text: /);
    expect(badRequest('{"type":"send","to":{"user":"b o b"},"text":"x"}')).toMatch(/^to/);
    expect(badRequest('{"type":"history","conv":{"user":"bob"},"limit":0}')).toMatch(/^limit: /);
    expect(badRequest(`{"type":"groups","ref":"${'r'.repeat(65)}"}`)).toMatch(/^ref: /);
    expect(badRequest('{"type":"sync","since":"yesterday"}')).toMatch(/^since/);
  });

  it('names an unknown type in its error, cut to 64 characters however long it is', () => {
    expect(badRequest(JSON.stringify({ type: 'x'.repeat(64) }))).toBe(`unknown frame type "${'x'.repeat(64)}"`);
    expect(badRequest(JSON.stringify({ type: 'x'.repeat(60_000) }))).toBe(`unknown frame type "${'x'.repeat(64)}…"`);
    expect(badRequest('{"ref":"r"}')).toBe('unknown frame type null');
    expect(badRequest('{"type":5}')).toBe('unknown frame type (a number, not a string)');
    expect(badRequest(`{"type":{"a":"${'y'.repeat(1000)}"}}`)).toBe('unknown frame type (an object, not a string)');
  });

  it('answers a type nested 20,000 deep with bad_request, not a stack overflow', () => {
    expect(badRequest(`{"type":${'['.repeat(20_000)}${']'.repeat(20_000)}}`)).toBe('unknown frame type (an array, not a string)');
  });

  it('recovers the ref of a bad frame when it has a usable one', () => {
    expect(refOf('{"type":"shout","ref":"r7"}')).toBe('r7');
    expect(refOf('{"ref":42}')).toBeUndefined();
    expect(refOf('not json')).toBeUndefined();
  });
});

describe('ids', () => {
  it('names a direct conversation by its two users in byte order, whoever sends', () => {
    expect(conversationId('bob', { user: 'alice' })).toBe('dm:alice:bob');
    expect(conversationId('alice', { user: 'bob' })).toBe('dm:alice:bob');
    expect(conversationId('a', { user: 'B' })).toBe('dm:B:a');
    expect(conversationId('alice', { user: 'alice' })).toBe('dm:alice:alice');
    expect(conversationId('alice', { group: 'team' })).toBe('g:team');
  });

  it('reads a conversation id back, and nothing of another shape', () => {
    expect(parseConversationId('dm:alice:bob')).toEqual({ users: ['alice', 'bob'] });
    expect(parseConversationId('g:team')).toEqual({ group: 'team' });
    for (const bad of ['g:', 'dm:alice', 'dm:a:b:c', 'dm::b', 'x:alice:bob', '']) expect(parseConversationId(bad), bad).toBeUndefined();
    expect(groupOfConversation('g:team')).toBe('team');
    expect(groupOfConversation('dm:alice:bob')).toBeUndefined();
  });

  it('tells who a conversation is with, seen from one of its users, and nothing to anyone else', () => {
    expect(conversationTarget('alice', 'dm:alice:bob')).toEqual({ user: 'bob' });
    expect(conversationTarget('bob', 'dm:alice:bob')).toEqual({ user: 'alice' });
    expect(conversationTarget('alice', 'dm:alice:alice')).toEqual({ user: 'alice' });
    expect(conversationTarget('mallory', 'dm:alice:bob')).toBeUndefined();
    expect(conversationTarget('mallory', 'g:team')).toEqual({ group: 'team' });
  });

  it('makes message ids that sort in time order, strictly increasing within one millisecond', () => {
    const next = messageIdGenerator();
    const ids = [next(1000), next(1000), next(1000), next(999), next(2000)];
    expect([...ids].sort()).toEqual(ids);
    expect(new Set(ids).size).toBe(ids.length);
    expect(ids.every(isMessageId)).toBe(true);
    expect(messageIdTime(ids[4] ?? '')).toBe(2000);
  });
});
